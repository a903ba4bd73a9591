"""Forms for running a skill, shared by the admin and the marketplace page."""

import json
from typing import Any

from django import forms
from django.core import validators


class JSONObjectField(forms.CharField):
    """A textarea holding a JSON object (a skill's params); empty means `{}`.

    `max_length` bounds the text, checked before it is parsed (CharField's own validators
    would run on the parsed object).
    """

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator, validators.MaxLengthValidator | validators.MinLengthValidator
            )
        ]

    def to_python(self, value: Any) -> dict:
        text = (super().to_python(value) or "").strip() or "{}"
        if self.max_length is not None and len(text) > self.max_length:
            raise forms.ValidationError(f"at most {self.max_length:,} characters")
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"not valid JSON ({error})") from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError('must be a JSON object, e.g. {"text": "hi"}')
        return parsed

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, indent=2) if isinstance(value, dict) else value


# The most text a "try it" form takes for its params (checked before it is parsed).
MAX_PARAMS_LENGTH = 65_536


class TryForm(forms.Form):
    """Run a skill once with JSON params: the admin's "Try it" page and the marketplace's."""

    params = JSONObjectField(
        required=False,
        max_length=MAX_PARAMS_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        initial="{}",
        help_text="A JSON object, checked against the skill's inputs schema.",
    )
    timeout = forms.FloatField(
        required=False, min_value=0.01, help_text="Seconds; empty for the skill's own."
    )
