from rest_framework import serializers


class PydanticJSONField(serializers.JSONField):
    """A JSON object whose shape a pydantic model describes (the OpenAPI schema shows that model).

    Only "is it an object" is checked here: the services validate the content through the model,
    so every error carries its JSON path (the one spec, one validator rule)."""

    default_error_messages = {"not_an_object": "Send a JSON object."}

    def __init__(self, schema_model, **kwargs):
        self.schema_model = schema_model
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            self.fail("not_an_object")
        return data
