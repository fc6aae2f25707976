"""Group chats in the staff console as plain forms (no JavaScript): the workspace lists
the groups a staff member is in, and in a group they talk, recall, see attachments
and send service cards naming the member customer each card is for; no one else
reaches the group."""

# ruff: noqa: F811 (the fixtures imported below are the tests' parameters)

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from rongbank.chat.airline import FakeAirline
from rongbank.chat.service import CUSTOMER, STAFF, Member
from rongbank.platform import Platform
from rongbank.wealth.rules import Terms
from tests.chat.samples import png_with_text
from tests.wealth.helpers import assessed
from tests.web.test_chat_card_pages import ROUTE, airline, offers  # noqa: F401 (fixture)
from tests.web.test_chat_pages import (  # noqa: F401 (fixtures)
    WebStaff,
    browser,
    card_of,
    clients,
    entries,
    friend,
    manager,
    me,
    say,
)
from tests.web.test_security_pages import WebCustomer


def group_of(platform: Platform, manager: WebStaff, *customers: WebCustomer) -> int:
    """A group of customers with their account manager in it."""
    with platform.transaction() as session:
        summary = platform.chat.create_group(
            session,
            creator=Member(STAFF, manager.id),
            title="韩家理财群",
            customer_ids=[c.id for c in customers],
        )
    return summary.conversation.id


def my_groups(page: Any) -> str:
    section = re.search(r'id="my-groups">(.*?)</section>', page.text, re.S)
    assert section, page.text
    return section.group(1)


def product(platform: Platform, manager: WebStaff) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        platform.wealth.create_product(
            session,
            staff_id=manager.id,
            code="RB30",
            name="融银稳利30天",
            terms=Terms(
                risk_level=2,
                yield_bps=285,
                min_amount=100_00,
                step_amount=100_00,
                sale_start=now - timedelta(days=1),
                sale_end=now + timedelta(days=7),
            ),
        )


def act_link(conversation: int, card: int) -> str:
    return f'href="/chat/{conversation}/cards/{card}"'


class TestTheWorkspace:
    def test_lists_the_groups_one_is_in_with_what_is_unread(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        manager.get("/staff/chat")
        assert "您还没有加入群聊" in my_groups(manager.page)
        group = group_of(platform, manager, me, friend)
        say(me, "/chat", group, "经理 想问下定期")
        say(friend, "/chat", group, "我也想问")
        manager.get("/staff/chat")
        listed = my_groups(manager.page)
        assert f'data-conversation="{group}"' in listed
        assert "韩家理财群" in listed
        assert 'class="badge unread">2<' in listed
        assert "我也想问" in listed  # the newest entry
        assert f'href="/staff/chat/{group}"' in listed

        manager.get(f"/staff/chat/{group}")
        assert 'class="badge unread"' not in my_groups(manager.get("/staff/chat/desk"))

    def test_lists_no_group_one_is_not_in(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        with platform.transaction() as session:
            platform.chat.create_group(
                session, creator=Member(CUSTOMER, me.id), title="朋友群", customer_ids=[friend.id]
            )
        manager.get("/staff/chat")
        assert "朋友群" not in my_groups(manager.page)


class TestTheGroupPage:
    def test_the_manager_talks_live_and_recalls_in_the_group(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        group = group_of(platform, manager, me, friend)
        say(me, "/chat", group, "经理在吗")
        manager.get(f"/staff/chat/{group}")
        assert manager.page.status_code == 200
        assert f'id="chat" data-live-as="staff" data-conversation="{group}"' in manager.page.text
        assert f'data-fragment="/staff/chat/{group}/messages"' in manager.page.text
        assert '<h1 id="chat-title">韩家理财群</h1>' in manager.page.text
        assert "韩梅梅" in entries(manager.page)[1][1]  # who said it, in a group
        assert 'id="customer-profile"' not in manager.page.text  # no one customer
        assert 'id="transfer"' not in manager.page.text  # a group is not handed over

        manager.submit(f"/staff/chat/{group}/messages", text="在的 请讲")
        assert manager.page.status_code == 200, manager.error
        assert "在的 请讲" in entries(manager.page)[2][1]
        fragment = manager.get(f"/staff/chat/{group}/messages?after_seq=1")
        assert list(entries(fragment)) == [2]
        for customer in (me, friend):
            assert "在的 请讲" in entries(customer.get(f"/chat/{group}"))[2][1]

        manager.get(f"/staff/chat/{group}")
        manager.submit(f"/staff/chat/{group}/messages/2/recall")
        assert manager.page.status_code == 200, manager.error
        assert "你撤回了一条消息" in entries(manager.page)[2][1]
        shown = entries(friend.get(f"/chat/{group}"))[2][1]
        assert "在的 请讲" not in shown
        assert "撤回了一条消息" in shown

    def test_the_manager_recalls_only_their_own_message(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        group = group_of(platform, manager, me, friend)
        say(me, "/chat", group, "不能被经理撤回")
        csrf = manager.csrf
        answer = manager.client.post(f"/staff/chat/{group}/messages/1/recall", data={"csrf": csrf})
        assert 400 <= answer.status_code < 500
        assert "不能被经理撤回" in entries(friend.get(f"/chat/{group}"))[1][1]

    def test_the_manager_sees_a_customers_image(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        group = group_of(platform, manager, me, friend)
        with platform.transaction() as session:
            platform.attachments.send(
                session, Member(CUSTOMER, me.id), conversation_id=group, client_id="p",
                name="回单.png", data=png_with_text(), caption="转账回单",
            )  # fmt: skip
        manager.get(f"/staff/chat/{group}")
        assert "转账回单" in entries(manager.page)[1][1]
        src = f"/staff/chat/{group}/messages/1/attachment"
        assert f'<img class="chat-image" src="{src}"' in manager.page.text
        download = manager.client.get(src)
        assert download.status_code == 200
        assert download.headers["content-type"] == "image/png"


class TestCardsInAGroup:
    def test_a_wealth_card_names_the_customer_it_is_for_and_only_they_buy(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        product(platform, manager)
        assessed(platform, me.id)
        group = group_of(platform, manager, me, friend)
        manager.get(f"/staff/chat/{group}")
        chooser = re.search(r'<select name="to_customer_id" id="wealth-for"[^>]*>(.*?)</select>',
                            manager.page.text, re.S)  # fmt: skip
        assert chooser
        assert re.findall(r'<option value="(\d+)"', chooser.group(1)) == [
            str(me.id),
            str(friend.id),
        ]

        manager.submit(
            f"/staff/chat/{group}/cards", to_customer_id=me.id, product_code="RB30", note="推荐"
        )
        assert manager.page.status_code == 200, manager.error
        card, status = card_of(manager.page)
        assert status == "open"
        assert "融银稳利30天" in manager.page.text

        friend.get(f"/chat/{group}")
        assert card_of(friend.page) == (card, "open")
        assert act_link(group, card) not in friend.page.text  # not theirs to buy
        csrf = friend.csrf
        answer = friend.client.post(
            f"/chat/{group}/cards/{card}/act",
            data={"csrf": csrf, "account": friend.account, "amount": "200"},
        )
        assert answer.status_code == 403

        me.get(f"/chat/{group}")
        assert act_link(group, card) in me.page.text
        me.get(f"/chat/{group}/cards/{card}")
        me.submit(f"/chat/{group}/cards/{card}/act", account=me.account, amount="200")
        assert card_of(me.page) == (card, "paid"), me.error
        assert me.balance() == 1_034_00
        manager.get(f"/staff/chat/{group}")
        assert card_of(manager.page) == (card, "paid")

    def test_a_card_is_sent_after_text_the_script_sent_from_the_same_page(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        product(platform, manager)
        group = group_of(platform, manager, me, friend)
        manager.get(f"/staff/chat/{group}")
        match = re.search(
            r'id="send-form">.*?name="client_id" value="(\w+)"', manager.page.text, re.S
        )
        assert match
        # The script sends the box's text over the socket with the box's client id,
        # and the page stays as it is.
        with platform.transaction() as session:
            platform.chat.send(
                session, Member(STAFF, manager.id), conversation_id=group,
                client_id=match.group(1), body="给您看个产品",
            )  # fmt: skip
        manager.submit(f"/staff/chat/{group}/cards", to_customer_id=friend.id, product_code="RB30")
        assert manager.page.status_code == 200, manager.error
        assert card_of(manager.page)[1] == "open"

    def test_a_flight_card_goes_to_the_customer_chosen_with_the_search(
        self,
        me: WebCustomer,
        friend: WebCustomer,
        manager: WebStaff,
        platform: Platform,
        airline: FakeAirline,
    ) -> None:
        group = group_of(platform, manager, me, friend)
        manager.get(f"/staff/chat/{group}")
        assert 'id="flight-for"' in manager.page.text
        manager.get(f"/staff/chat/{group}/flights?{ROUTE}&to_customer_id={friend.id}")
        assert manager.page.status_code == 200, manager.error
        assert len(offers(manager.page)) == 3
        assert re.search(rf'<option value="{friend.id}" selected>', manager.page.text)
        manager.submit(f"/staff/chat/{group}/cards")  # the first offer's button
        assert manager.page.status_code == 200, manager.error
        card, _ = card_of(manager.page)
        assert act_link(group, card) in friend.get(f"/chat/{group}").text
        assert act_link(group, card) not in me.get(f"/chat/{group}").text

    def test_a_card_naming_no_member_customer_is_refused_and_nothing_is_sent(
        self,
        me: WebCustomer,
        friend: WebCustomer,
        manager: WebStaff,
        platform: Platform,
        clients: list[TestClient],
    ) -> None:
        product(platform, manager)
        group = group_of(platform, manager, me)
        manager.get(f"/staff/chat/{group}")
        csrf = manager.csrf
        for named in ({}, {"to_customer_id": str(friend.id)}):  # nobody; not in the group
            answer = manager.client.post(
                f"/staff/chat/{group}/cards",
                data={"csrf": csrf, "kind": "wealth", "product_code": "RB30", **named},
            )
            assert answer.status_code == 422, named
            assert "这类卡片不能在此会话中发送" in answer.text
            assert f'id="chat" data-live-as="staff" data-conversation="{group}"' in answer.text
        assert entries(manager.get(f"/staff/chat/{group}")) == {}


class TestWhoReachesAGroup:
    def test_staff_not_in_the_group_are_refused_as_for_any_chat(
        self,
        me: WebCustomer,
        friend: WebCustomer,
        manager: WebStaff,
        platform: Platform,
        clients: list[TestClient],
    ) -> None:
        group = group_of(platform, manager, me, friend)
        say(me, "/chat", group, "群里的话")
        other = WebStaff(browser(platform, clients), platform, "zhao", "赵经理")
        csrf = other.csrf
        for method, url, data in (
            ("GET", f"/staff/chat/{group}", None),
            ("GET", f"/staff/chat/{group}/messages?after_seq=0", None),
            ("GET", f"/staff/chat/{group}/messages/1/attachment", None),
            ("POST", f"/staff/chat/{group}/messages", {"text": "插话", "client_id": "x"}),
            ("POST", f"/staff/chat/{group}/messages/1/recall", {}),
            ("POST", f"/staff/chat/{group}/cards", {"to_customer_id": str(me.id)}),
            ("POST", f"/staff/chat/{group}/cards/1/decline", {}),
        ):
            answer = other.client.request(
                method, url, data=None if data is None else {**data, "csrf": csrf}
            )
            assert answer.status_code == 404, (method, url)
            assert "群里的话" not in answer.text
        assert "韩家理财群" not in my_groups(other.get("/staff/chat"))
        assert list(entries(me.get(f"/chat/{group}"))) == [1]  # nothing was added

    def test_other_roles_and_customers_cannot_open_the_console_page(
        self,
        me: WebCustomer,
        friend: WebCustomer,
        manager: WebStaff,
        platform: Platform,
        clients: list[TestClient],
    ) -> None:
        group = group_of(platform, manager, me, friend)
        ops = WebStaff(browser(platform, clients), platform, "ops1", "运营一")
        with platform.transaction() as session:
            platform.chat.add_member(session, group, Member(STAFF, ops.id))
        assert ops.get(f"/staff/chat/{group}").status_code == 403  # the console is managers'
        answer = me.client.get(f"/staff/chat/{group}", follow_redirects=False)
        assert answer.headers["location"] == "/staff/login"
        eve = WebCustomer(browser(platform, clients), platform, "伊娃", "13900000703", 703)
        assert eve.get(f"/chat/{group}").status_code == 404
