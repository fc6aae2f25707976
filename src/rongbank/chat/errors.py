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


class LookupRateLimited(DomainError):
    """Opening chats by mobile number is limited per customer, so that nobody can try
    numbers (or ask strangers) in bulk."""

    code = "chat_lookup_rate_limited"
    status = 429
    message = "You have opened many chats by mobile number; please wait a while."


class RequestPending(Conflict):
    code = "chat_request_pending"
    message = (
        "Until they accept your chat request you can send a short greeting only: up to "
        "three text messages."
    )


class RequestNotAccepted(Conflict):
    code = "chat_request_not_accepted"
    message = "Accept the chat request before you reply."


class RequestNotYours(Conflict):
    code = "chat_request_not_yours"
    message = "This is not a chat request to you: only the person asked accepts or declines it."


class NotAContact(InvalidRequest):
    """The same answer for a stranger's number as for a number nobody has."""

    code = "chat_not_a_contact"
    message = "Only people who have accepted a chat with you can be added to a group."


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


class CustomerNotServed(Forbidden):
    """The one refusal for staff looking at a customer they may not see (the tools,
    the risk assessments, the console's customer page): see
    :meth:`rongbank.chat.desk.Desk.check_customer`."""

    code = "staff_customer_not_served"
    message = (
        "Account managers see the customers assigned to them and those whose chat with "
        "the bank they serve now."
    )


class SharedRepliesBySupervisors(Forbidden):
    code = "chat_canned_shared_not_allowed"
    message = "Only a supervisor publishes canned replies shared by every account manager."


class ReasonRequired(InvalidRequest):
    code = "chat_reason_required"
    message = "Please give a reason."


class AlreadyReported(Conflict):
    code = "chat_already_reported"
    message = "You have already reported this message."


class ReportNotFound(NotFound):
    code = "chat_report_not_found"
    message = "There is no such report."


class GroupTooLarge(InvalidRequest):
    code = "chat_group_too_large"
    message = "A group has at most 200 members."


# -- service cards -------------------------------------------------------------------------


class CardNotFound(NotFound):
    """Also the answer for a card in a conversation the caller is not in."""

    code = "chat_card_not_found"
    message = "No such card in this conversation."


class CardUsed(Conflict):
    """A card opens its action once: the second use, even at the same moment, is this."""

    code = "chat_card_used"
    message = "This card has been used already (details give its state)."


class CardExpired(Conflict):
    code = "chat_card_expired"
    message = "This card has expired; ask for a new one."


class CardNotForYou(Forbidden):
    code = "chat_card_not_for_you"
    message = "This card is for someone else in the conversation."


class CardNotAllowedHere(InvalidRequest):
    code = "chat_card_not_allowed_here"
    message = "This kind of card cannot be sent in this conversation, or by you."


class CardAccountRequired(InvalidRequest):
    code = "chat_card_account_required"
    message = "Say which of your accounts to pay from (account)."


class CardAmountRequired(InvalidRequest):
    code = "chat_card_amount_required"
    message = "Say how much to buy (amount)."


class NoReceivingAccount(Conflict):
    code = "chat_card_no_receiving_account"
    message = "The other person has no active account to receive money into."


class MerchantNotYours(Forbidden):
    code = "chat_card_merchant_not_yours"
    message = "Only the customer behind a merchant sends its payment requests."


class FlightsNotOffered(Conflict):
    code = "chat_flights_not_offered"
    message = "Flight booking is not set up at this bank (no airline merchant configured)."


class FlightUnavailable(Conflict):
    code = "chat_flight_unavailable"
    message = "This flight offer is no longer available; search again."


class FlightSearchInvalid(InvalidRequest):
    code = "chat_flight_search_invalid"
    message = "Give the route as two three-letter airport codes (PEK, SHA) and a date."


class FlightBookingFailed(Conflict):
    code = "chat_flight_booking_failed"
    message = (
        "The airline could not confirm the booking. Your payment was released and the "
        "seat given back; nothing was charged."
    )


# -- attachments and push notices ----------------------------------------------------------


class AttachmentEmpty(InvalidRequest):
    code = "chat_attachment_empty"
    message = "The file is empty."


class AttachmentTooLarge(DomainError):
    code = "chat_attachment_too_large"
    status = 413
    message = "The file is too large to send (details give the limit in bytes)."


class ImageTooLarge(DomainError):
    code = "chat_image_too_large"
    status = 413
    message = "The image has too many pixels to send; please send a smaller one."


class AttachmentTypeRefused(DomainError):
    """Decided by the content, whatever the file's name or declared type."""

    code = "chat_attachment_type_refused"
    status = 415
    message = (
        "This kind of file cannot be sent: images (JPEG, PNG, WebP, GIF), PDF, plain text "
        "and office documents without macros can."
    )


class AttachmentNotFound(NotFound):
    """Also the answer for a recalled or hidden one, and for a conversation the
    caller is not in."""

    code = "chat_attachment_not_found"
    message = "No such attachment in this conversation."


class BroadcastNotFound(NotFound):
    code = "chat_broadcast_not_found"
    message = "No such broadcast."


class BroadcastConflict(Conflict):
    code = "chat_broadcast_conflict"
    message = "This client id was used for a different broadcast."
