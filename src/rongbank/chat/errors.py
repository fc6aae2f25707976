"""Refusals of 融e联 chat."""

from __future__ import annotations

from rongbank.errors import Conflict, DomainError, Forbidden, InvalidRequest, NotFound


class ConversationNotFound(NotFound):
    """Also the answer for a conversation that exists but the caller is not in, so
    that no one learns which conversations exist."""

    code = "chat_conversation_not_found"
    message = "No such conversation."


class MessageNotFound(NotFound):
    code = "chat_message_not_found"
    message = "No such message in this conversation."


class ChatUserNotFound(NotFound):
    code = "chat_user_not_found"
    message = "No customer can be reached with these details."


class StaffNotFound(NotFound):
    code = "chat_staff_not_found"
    message = "No such active account manager."


class MessageEmpty(InvalidRequest):
    code = "chat_message_empty"
    message = "A message needs some text."


class MessageTooLong(InvalidRequest):
    code = "chat_message_too_long"
    message = "A message has at most 2,000 characters."


class ReplyToUnknown(InvalidRequest):
    code = "chat_reply_to_unknown"
    message = "The quoted message is not in this conversation."


class ChannelReadOnly(Forbidden):
    code = "chat_channel_read_only"
    message = "Only the bank posts in a notice channel."


class Blocked(Forbidden):
    """Deliberately the same answer whoever blocked whom."""

    code = "chat_blocked"
    message = "You cannot send messages to this person."


class CannotChatWithSelf(InvalidRequest):
    code = "chat_with_self"
    message = "You cannot start a conversation with yourself."


class RecallNotAllowed(Forbidden):
    code = "chat_recall_not_allowed"
    message = "You can only recall your own messages."


class RecallWindowPassed(Conflict):
    code = "chat_recall_window_passed"
    message = "A message can only be recalled within a short time of sending it."


class RateLimited(DomainError):
    code = "chat_rate_limited"
    status = 429
    message = "You are sending messages too quickly; please wait a moment."


class NotServing(Forbidden):
    code = "chat_not_serving"
    message = "Only account managers serve customers' chats."


class ReasonRequired(InvalidRequest):
    code = "chat_reason_required"
    message = "Please give a reason."


class AlreadyReported(Conflict):
    code = "chat_already_reported"
    message = "You have already reported this message."


class GroupTooLarge(InvalidRequest):
    code = "chat_group_too_large"
    message = "A group has at most 200 members."
