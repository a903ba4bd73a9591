"""API keys in the admin: made through atom_site/keys.py (the token is shown once, in a
message), listed with what they may do and when they were last used, revoked by an action."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from atom_site.keys import api_key_create, api_key_revoke, api_keys_changed
from atom_site.models import ApiKey, ApiKeyScope


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["name", "owner", "agent", "scopes", "expires_at"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:  # adding: api_key_create refuses an inactive owner
            self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True)

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now() and not self.instance.pk:
            raise forms.ValidationError("is in the past")
        return expires_at


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = (
        "name",
        "public_id",
        "owner",
        "agent",
        "scope_list",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "created_at",
    )
    list_filter = ("revoked_at", "agent")
    list_select_related = ("owner", "agent")
    search_fields = ("name", "public_id", "owner__username", "agent__slug")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        made = ("public_id", "created_at", "last_used_at", "revoked_at")
        # A key's owner and agent are what it was made for; another one is a new key.
        return ("owner", "agent", *made) if obj is not None else ()

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            api_keys_changed()
            return
        key, token = api_key_create(
            owner=obj.owner,
            name=obj.name,
            scopes=obj.scopes,
            agent=obj.agent,
            expires_at=obj.expires_at,
        )
        # The admin goes on (history entry, redirect) with the row the domain made.
        obj.pk = key.pk
        obj.refresh_from_db()
        obj._state.adding = False
        messages.warning(
            request,
            f"The token of {key.name!r}, shown this once (only its digest is kept): {token}",
        )

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(api_key_revoke(key=key) for key in queryset)
        self.message_user(request, f"{revoked} key(s) revoked.", messages.SUCCESS)
