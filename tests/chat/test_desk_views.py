"""What the managers' workspace reads from the desk: a manager's own customers with
their chats, the notes of transfers, and whether a manager is on duty."""

from __future__ import annotations

from rongbank.chat.service import CUSTOMER, Member
from rongbank.platform import Platform
from tests.factories.identity import resident_id


def test_a_managers_customers_transfer_notes_and_duty(platform: Platform) -> None:
    with platform.transaction() as session:
        wang = platform.accounts.create_staff(
            session, username="wang", name="王经理", role="account_manager"
        )
        customers = [
            platform.accounts.register_person(
                session, name=name, mobile=f"1390000090{n}", resident_id=resident_id(900 + n)
            )[0]
            for n, name in enumerate(("韩梅梅", "李雷"))
        ]
        li = platform.accounts.create_staff(
            session, username="li", name="李经理", role="account_manager"
        )
        han = customers[0].id
        conversation = platform.chat.open_bank(session, customer_id=han).conversation.id
        platform.chat.send(
            session, Member(CUSTOMER, han), conversation_id=conversation, client_id="1", body="在吗"
        )
        platform.chat.desk.transfer(
            session, staff_id=wang, conversation_id=conversation, to_staff_id=li, note="请跟进"
        )
        platform.chat.desk.set_on_duty(session, staff_id=wang, on_duty=False)

        mine = platform.chat.desk.customers(session, staff_id=wang)
        assert {(c.name, c.conversation_id, c.unread) for c in mine} == {
            ("韩梅梅", conversation, 2),  # the question and "李经理 will serve you"
            ("李雷", None, 0),
        }
        assert platform.chat.desk.customers(session, staff_id=li) == []
        (note,) = platform.chat.desk.transfers(session, conversation_id=conversation)
        assert (note.from_name, note.to_name, note.note) == ("王经理", "李经理", "请跟进")
        assert not platform.chat.desk.on_duty(session, wang)
        assert platform.chat.desk.on_duty(session, li)
