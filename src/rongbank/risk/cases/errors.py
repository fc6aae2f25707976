"""The refusals of the risk cases and of "was this you?", each with a stable code."""

from __future__ import annotations

from rongbank.errors import Conflict, Forbidden, InvalidRequest, NotFound


class CaseNotFound(NotFound):
    code = "risk_case_not_found"
    message = "No such risk case."


class CaseClosed(Conflict):
    code = "risk_case_closed"
    message = "This case is already decided."


class CaseAssignedElsewhere(Conflict):
    code = "risk_case_assigned_elsewhere"
    message = (
        "Another analyst is working this case: only they can act on it, unless a "
        "supervisor reassigns it."
    )


class CaseNotTaken(Conflict):
    code = "risk_case_not_taken"
    message = "Take the case before deciding it."


class CaseAwaitingSecond(Conflict):
    code = "risk_case_awaiting_second"
    message = "This decision waits for a second analyst to confirm it."


class CaseNotAwaitingSecond(Conflict):
    code = "risk_case_not_awaiting_second"
    message = "There is no decision on this case waiting for confirmation."


class SecondAnalystRequired(Forbidden):
    code = "risk_case_second_analyst_required"
    message = "A second analyst must confirm this decision: not the one who proposed it."


class OutcomeInvalid(InvalidRequest):
    code = "risk_case_outcome_invalid"
    message = "The outcome is one of fraud, genuine, suspicious or no_action."


class AssigneeInvalid(InvalidRequest):
    code = "risk_case_assignee_invalid"
    message = "Cases are assigned to active risk analysts only."


class QuestionNotFound(NotFound):
    """The same answer for another customer's question as for one that does not exist."""

    code = "risk_question_not_found"
    message = "No such question."


class QuestionAnswered(Conflict):
    code = "risk_question_answered"
    message = "This question has already been answered, or the bank has decided the payment."


class NoteRequired(InvalidRequest):
    code = "risk_case_note_required"
    message = "Write a note: what you saw, and why you decide so."
