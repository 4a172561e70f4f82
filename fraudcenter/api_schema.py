"""The OpenAPI schema tells the truth about what every operation can answer and accept.

drf-spectacular documents what each view declares; the answers every API URL shares (a field
error, no token, a role that may not, a URL the proxy finds too long, the throttle) come from
the project's policies, not from the view, so they are added here once, by what the operation
takes: a body, query or header parameters, a path id, If-Match, Idempotency-Key. A response
a view documents itself is kept. Request strings are declared free of NUL (DRF refuses it in
every CharField), so a schema-valid request is one the API accepts.

schemathesis (tests/api/test_schema_fuzz.py) holds the schema to this with all its checks."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
FIELD_ERRORS = {"$ref": "#/components/schemas/FieldErrors"}
NO_NUL = "^[^\\x00]*$"

_SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": "Ошибки по полям: {поле: [сообщения]}; общие — в non_field_errors "
        "или detail.",
        "additionalProperties": {},
    },
}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _common_answers(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    params = operation.get("parameters", [])
    where = {p["in"] for p in params}
    headers = {p["name"].lower() for p in params if p["in"] == "header"}
    has_body = "requestBody" in operation
    answers = {
        "401": _answer("Нет токена или он неверный", ERROR),
        "403": _answer("Роли это не разрешено", ERROR),
        "414": {"description": "Адрес слишком длинный (отвечает прокси или gunicorn)"},
        "429": _answer("Слишком много запросов; Retry-After — через сколько секунд", ERROR),
    }
    if has_body or where & {"query", "header"}:
        answers["400"] = _answer("Ошибки во входных данных", FIELD_ERRORS)
    if "path" in where:
        answers["404"] = _answer("Не найдено или не видно этой роли", ERROR)
    if has_body:
        answers["415"] = _answer("Тело не в JSON, form или multipart", ERROR)
    if "if-match" in headers:
        answers["412"] = _answer("Обращение изменили после этой версии", ERROR)
    if "idempotency-key" in headers:
        answers["409"] = _answer("Запрос с этим ключом ещё выполняется", ERROR)
        answers["422"] = _answer("Этот ключ уже был с другим телом", ERROR)
    return answers


def _forbid_nul(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string" and not ({"format", "enum", "pattern"} & schema.keys()):
        schema["pattern"] = NO_NUL
    for sub in schema.get("properties", {}).values():
        _forbid_nul(sub)
    if isinstance(schema.get("items"), dict):
        _forbid_nul(schema["items"])


def _allow_empty(param: dict[str, Any]) -> None:
    """An optional parameter sent empty (`?date_to=`, as an HTML form sends it) is as if not
    sent: a date, number or choice parameter says so instead of claiming only its type."""
    schema = param.get("schema", {})
    if schema.get("type") == "array" or schema.get("pattern") == NO_NUL:
        return  # a list's empty item is an invalid choice; free text takes "" anyway
    param["schema"] = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def document_common_answers(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _SCHEMAS.items():
        schemas.setdefault(name, schema)
    for name, schema in schemas.items():
        if name.endswith("Request"):  # COMPONENT_SPLIT_REQUEST: the input side only
            _forbid_nul(schema)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param["in"] in ("query", "header"):
                    _forbid_nul(param.get("schema", {}))
                if param["in"] == "query" and not param.get("required"):
                    _allow_empty(param)
            responses = operation.setdefault("responses", {})
            for code, answer in _common_answers(operation).items():
                responses.setdefault(code, answer)
    return result
