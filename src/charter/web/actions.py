"""Running a change from a console form: validate, call the service, commit — or show what was refused.

Every console form that changes something and shows a refusal on a page goes through this module (a view
whose refusals all belong on the error page, such as the gate check, simply commits after its one call):

- `run_and_redirect`: post/redirect/get. Success redirects with a flash message; a refusal redirects back
  with the refusal as an error flash (buttons and small forms on a page: acknowledge, approve, move...).
- `run_or_rerender`: success redirects with a flash message; a refusal re-renders the form with the messages
  beside the fields and the refusal's status (422 for invalid input, the error's own status otherwise).

The change is a function without arguments that validates the input (Pydantic) and calls one service
function; its result is handed to `ok` / `to` when they are functions (a message or URL naming what was made).
A refusal rolls the unit of work back, so nothing of the change is committed. PermissionDenied (403) is raised
on to the console's error page (WebRoute), unless the form asks to show it beside the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from fastapi import Request, Response
from pydantic import ValidationError

from charter.context import Ctx
from charter.kit.errors import CharterError
from charter.web.forms import field_errors, refusal_errors, summary
from charter.web.render import redirect

T = TypeVar("T")

Forbidden = Literal["raise", "show"]
"""What a 403 does: raise (the console's error page) or show (returned as a refusal, shown like any other)."""

FormPage = Callable[[int, dict[str, str]], Response]
"""Re-renders a form after a refusal: (status, {field: message}) -> the page."""


@dataclass(frozen=True)
class Refusal:
    """Why a change was refused, as a page shows it."""

    status: int
    errors: dict[str, str]  # {field: message}; messages not tied to one field are under forms.GENERAL

    @property
    def message(self) -> str:
        """One line for a flash message."""
        return summary(self.errors)


def run_change(
    ctx: Ctx,
    change: Callable[[], T],
    *,
    forbidden: Forbidden = "raise",
    commit_on: tuple[type[CharterError], ...] = (),
) -> T | Refusal:
    """Run the change and commit; a refusal (invalid input, or an error a person can act on) is rolled back
    and returned. `commit_on` names refusals whose work is evidence and is committed all the same (a refused
    gate evaluation)."""
    try:
        result = change()
        if not isinstance(result, Response):  # a confirmation page instead of a result: nothing changed
            ctx.commit()
    except ValidationError as exc:
        ctx.session.rollback()
        return Refusal(422, field_errors(exc))
    except CharterError as exc:
        if isinstance(exc, commit_on):
            ctx.commit()
        else:
            ctx.session.rollback()
        if exc.status == 403 and forbidden == "raise":
            raise
        return Refusal(exc.status, refusal_errors(exc))
    return result


def _text(value: str | Callable[[T], str], result: T) -> str:
    return value if isinstance(value, str) else value(result)


def run_and_redirect(
    request: Request,
    ctx: Ctx,
    change: Callable[[], T],
    *,
    back: str,
    ok: str | Callable[[T], str],
    to: str | Callable[[T], str] | None = None,
    prefix: str = "",
    commit_on: tuple[type[CharterError], ...] = (),
) -> Response:
    """Run the change; redirect to `to` (default `back`) with the `ok` message, or to `back` with the refusal
    (preceded by `prefix`, e.g. the item it is about) as an error message."""
    outcome = run_change(ctx, change, commit_on=commit_on)
    if isinstance(outcome, Refusal):
        return redirect(request, back, prefix + outcome.message, "error")
    return redirect(request, back if to is None else _text(to, outcome), _text(ok, outcome))


def run_or_rerender(
    request: Request,
    ctx: Ctx,
    change: Callable[[], T],
    *,
    form_page: FormPage,
    to: str | Callable[[T], str],
    ok: str | Callable[[T], str],
    forbidden: Forbidden = "raise",
) -> Response:
    """Run the change; redirect to `to` with the `ok` message, or re-render the form with the refusal.

    A change may answer with a page of its own instead of a result (a confirmation step before a governance
    decision): that page is returned as it is. With forbidden="show", a 403 is shown on the form too (the
    person keeps what they typed, e.g. after choosing a field only another role may set).
    """
    outcome = run_change(ctx, change, forbidden=forbidden)
    if isinstance(outcome, Refusal):
        return form_page(outcome.status, outcome.errors)
    if isinstance(outcome, Response):
        return outcome
    return redirect(request, _text(to, outcome), _text(ok, outcome))
