"""Schemathesis hooks for `.ci/schemathesis.sh`.

The document states every rule about the *shape* of a request. A few refusals depend on state that
no schema can describe, and a schema-valid request that meets them is rightly refused; this hook
lets exactly those through the "schema-valid request rejected" check (ST202), by the problem code
the server answers with, and nothing else:

- `precondition_failed` (412): an `If-Match` naming an entity tag the resource no longer has;
- `invalid_cursor` (400): a `cursor` that this list did not hand out (cursors are opaque tokens);
- `idempotency_key_reused` (422): an `Idempotency-Key` already used for another request;
- `validation_failed` (422) where every field error is `not_found` (a body reference to a record
  that does not exist, such as an `assignee_id`), `not_in_past` or `not_in_future` (a time that
  must lie ahead of now, such as an API key's `expires_at`, or not after it, such as an
  interaction's `occurred_at`);
- `validation_failed` (422) answering a JSON merge patch (`PATCH`): the patch is checked by the
  document, but whether the patched whole is valid depends on what is stored (a patch setting
  `kind: purchase` on a note that has no amount).

- `validation_failed` (422) answering an import (`POST …/import`): its body is a CSV or NDJSON
  file, which the document describes as text; what each row must hold is the resource's draft,
  checked row by row (the 422 carries the report of every bad row).

Every other refusal of a schema-valid request still fails the run.
"""

import schemathesis

STATE_CODES = {"precondition_failed", "invalid_cursor", "idempotency_key_reused"}
STATE_FIELD_CODES = {"not_found", "not_in_past", "not_in_future"}


def _problem(response):
    try:
        body = response.json()
    except Exception:
        return None
    return body if isinstance(body, dict) else None


def refused_for_state(case, response) -> bool:
    problem = _problem(response)
    if problem is None:
        return False
    code = problem.get("code")
    if code in STATE_CODES:
        return True
    if code == "validation_failed" and case.method.upper() == "PATCH":
        return True
    if code == "validation_failed" and case.path.endswith("/import"):
        return True
    errors = problem.get("errors") or []
    return (
        code == "validation_failed"
        and bool(errors)
        and all(isinstance(e, dict) and e.get("code") in STATE_FIELD_CODES for e in errors)
    )


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if getattr(failure, "code", None) == "ST202" and response is not None:
        return not refused_for_state(case, response)
    return True
