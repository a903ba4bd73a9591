"""Form fields shared by the admin and the marketplace page."""

import json
from typing import Any

from django import forms


class JSONObjectField(forms.CharField):
    """A textarea holding a JSON object (a skill's params); empty means `{}`."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> dict:
        text = (super().to_python(value) or "").strip() or "{}"
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"not valid JSON ({error})") from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError('must be a JSON object, e.g. {"text": "hi"}')
        return parsed

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, indent=2) if isinstance(value, dict) else value
