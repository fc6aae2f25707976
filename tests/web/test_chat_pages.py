"""融e联 pages as plain forms (no JavaScript, no browser): the customer's chats with
their account manager and other customers, and the managers' workspace in the staff
console; and that no one reaches a conversation or a desk that is not theirs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.chat.records import Message
from rongbank.chat.service import STAFF, Member
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.wealth.rules import Terms
from rongbank.web import chat_card_pages, chat_desk_pages, chat_pages, chat_views
from rongbank.web.i18n import translate
from rongbank.web.pages import templates
from tests.chat.samples import png_with_text
from tests.support import web as support
from tests.support.web import ask, browser, conversation_of, direct, say
from tests.wealth.helpers import assessed
from tests.web.conftest import deposit, sms_code
from tests.web.test_security_pages import WebCustomer


class Entries(HTMLParser):
    """A conversation page's entries: seq -> (classes, the words shown)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: dict[int, tuple[str, str]] = {}
        self._seq: int | None = None
        self._depth = 0
        self._words: list[str] = []
        self._classes = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "li" and re.fullmatch(r"m\d+", a.get("id", "")):
            self._seq, self._depth, self._words = int(a["id"][1:]), 0, []
            self._classes = a.get("class", "")
        if self._seq is not None and tag == "li":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._seq is not None and tag == "li":
            self._depth -= 1
            if self._depth == 0:
                self.found[self._seq] = (self._classes, " ".join(" ".join(self._words).split()))
                self._seq = None

    def handle_data(self, data: str) -> None:
        if self._seq is not None:
            self._words.append(data)


class WebStaff(support.WebStaff):
    """A member of the console as these tests name them: ``ops...`` in operations,
    everyone else an account manager."""

    def __init__(self, client: TestClient, platform: Platform, username: str, name: str) -> None:
        role = "operations" if username.startswith("ops") else "account_manager"
        super().__init__(client, platform, username, name, role)


def entries(page: Any) -> dict[int, tuple[str, str]]:
    return Entries(page.text).found


def unread(page: Any, conversation_id: int) -> int:
    """The unread badge of a conversation in the customer's list (0: none shown)."""
    match = re.search(rf'data-conversation="{conversation_id}">(.*?)</li>', page.text, re.S)
    assert match, page.text
    badge = re.search(r'class="badge unread"[^>]*>(\d+)<', match.group(1))
    return int(badge.group(1)) if badge else 0


@pytest.fixture
def clients(platform: Platform) -> Iterator[list[TestClient]]:
    made: list[TestClient] = []
    try:
        yield made
    finally:
        for client in made:
            client.__exit__(None, None, None)


@pytest.fixture
def manager(platform: Platform, clients: list[TestClient]) -> WebStaff:
    """The account manager; made first, so every customer below is theirs."""
    return WebStaff(browser(platform, clients), platform, "wang", "王经理")


@pytest.fixture
def colleague(platform: Platform, clients: list[TestClient], manager: WebStaff) -> WebStaff:
    colleague = WebStaff(browser(platform, clients), platform, "li", "李经理")
    with platform.transaction() as session:
        # No customers of their own, so the customers below stay the manager's.
        session.execute(text("UPDATE customer SET manager_id = :m"), {"m": manager.id})
    return colleague


@pytest.fixture
def me(platform: Platform, clients: list[TestClient], manager: WebStaff) -> WebCustomer:
    customer = WebCustomer(browser(platform, clients), platform, "韩梅梅", "13900000701", 701)
    deposit(platform, customer.account, 1_234_00)
    return customer


@pytest.fixture
def friend(platform: Platform, clients: list[TestClient], manager: WebStaff) -> WebCustomer:
    return WebCustomer(browser(platform, clients), platform, "李雷", "13900000702", 702)


def open_bank(me: WebCustomer) -> int:
    me.get("/chat")
    me.submit("/chat/bank")
    assert me.page.status_code == 200, me.page.text
    return conversation_of(me.page)


def _normalised(page: str, conversation: int, mobile: str) -> str:
    """A request's page less what differs between any two: its conversation's id, the
    number typed and the send form's fresh client id."""
    page = re.sub(rf'(/chat/|data-conversation="){conversation}\b', r"\1N", page)
    page = page.replace(f"{mobile[:3]}****{mobile[-4:]}", "M")
    return re.sub(r'name="client_id" value="[0-9a-f]{32}', 'name="client_id" value="X', page)


class TestTheCustomerAndTheirManager:
    def test_a_question_waits_on_the_desk_until_the_manager_answers_and_it_is_read(
        self, me: WebCustomer, manager: WebStaff, clock: FrozenClock
    ) -> None:
        conversation = open_bank(me)
        assert "我的客户经理 · 王经理" in me.page.text
        say(me, "/chat", conversation, "请问理财产品有哪些")
        assert "请问理财产品有哪些" in entries(me.page)[1][1]
        assert "已发送" in entries(me.page)[1][1]

        clock.advance(timedelta(seconds=95))
        manager.get("/staff/chat")
        waiting = re.search(r'id="waiting">(.*?)</section>', manager.page.text, re.S)
        assert waiting
        assert "韩梅梅" in waiting.group(1)
        assert "已等待 1 分 35 秒" in waiting.group(1)
        assert 'class="badge unread">1<' in waiting.group(1)

        manager.get(f"/staff/chat/{conversation}")
        profile = re.search(r'id="customer-profile">(.*?)</section>', manager.page.text, re.S)
        assert profile
        assert "韩梅梅" in profile.group(1)
        assert "139****0701" in profile.group(1)
        assert me.account in profile.group(1)
        assert "¥ 1,234.00" in profile.group(1)
        manager.submit(f"/staff/chat/{conversation}/messages", text="您好 我来为您介绍")
        assert "您好 我来为您介绍" in entries(manager.page)[2][1]
        assert "已读" not in entries(manager.page)[2][1]

        me.get("/chat")
        assert unread(me.page, conversation) == 1
        me.get(f"/chat/{conversation}")
        assert "王经理" in entries(me.page)[2][1]
        me.get("/chat")
        assert unread(me.page, conversation) == 0
        manager.get(f"/staff/chat/{conversation}")
        assert "已读" in entries(manager.page)[2][1]

        manager.get("/staff/chat")
        assert "韩梅梅" not in re.sub(r'id="my-customers".*', "", manager.page.text, flags=re.S)
        assert re.search(r'id="rt-answered">1<', manager.page.text)
        assert re.search(r'id="rt-average">95 秒<', manager.page.text)

    def test_the_manager_goes_off_duty_and_a_colleague_takes_the_chat_from_the_queue(
        self, me: WebCustomer, manager: WebStaff, colleague: WebStaff, platform: Platform
    ) -> None:
        for person in (manager, colleague):
            person.get("/staff/chat")
            person.submit("/staff/chat/duty", on_duty="false")
            assert 'data-on-duty="false"' in person.page.text
        conversation = open_bank(me)
        say(me, "/chat", conversation, "有人在吗")
        assert "我们会尽快回复" in entries(me.page)[2][1]  # the away message

        colleague.get("/staff/chat")
        assert re.search(r"desk-item queued", colleague.page.text)
        colleague.get(f"/staff/chat/{conversation}")
        assert colleague.page.status_code == 404  # not theirs until they take it
        colleague.get("/staff/chat")
        colleague.submit(f"/staff/chat/{conversation}/claim")
        assert colleague.page.status_code == 200, colleague.page.text
        assert "有人在吗" in entries(colleague.page)[1][1]
        with platform.transaction() as session:
            assert platform.chat.conversation(session, conversation).assigned_staff_id == (
                colleague.id
            )

    def test_a_chat_is_transferred_to_a_colleague_with_a_note_the_customer_never_sees(
        self, me: WebCustomer, manager: WebStaff, colleague: WebStaff
    ) -> None:
        conversation = open_bank(me)
        say(me, "/chat", conversation, "我想办理房贷")
        manager.get(f"/staff/chat/{conversation}")
        manager.submit(
            f"/staff/chat/{conversation}/transfer",
            to_staff_id=colleague.id,
            note="客户要办房贷 请李经理跟进",
        )
        assert 'id="desk-notice"' in manager.page.text

        colleague.get(f"/staff/chat/{conversation}")
        assert colleague.page.status_code == 200
        notes = re.search(r'id="transfer-notes">(.*?)</section>', colleague.page.text, re.S)
        assert notes
        assert "王经理 → 李经理" in notes.group(1)
        assert "客户要办房贷 请李经理跟进" in notes.group(1)
        me.get(f"/chat/{conversation}")
        assert "李经理 将为您服务" in me.page.text
        assert "请李经理跟进" not in me.page.text

    def test_canned_replies_are_added_and_sent(self, me: WebCustomer, manager: WebStaff) -> None:
        conversation = open_bank(me)
        say(me, "/chat", conversation, "在吗")
        manager.get("/staff/chat")
        manager.submit("/staff/chat/canned", title="问候", body="您好 很高兴为您服务")
        manager.get(f"/staff/chat/{conversation}")
        match = re.search(r'name="canned" value="(\d+)"', manager.page.text)
        assert match
        manager.submit(f"/staff/chat/{conversation}/messages", press=("canned", match.group(1)))
        assert "您好 很高兴为您服务" in entries(manager.page)[2][1]

        manager.get("/staff/chat")
        manager.submit("/staff/chat/canned", title="", body="")
        assert manager.page.status_code == 422
        assert "请填写快捷回复的标题和内容" in manager.error

    def test_the_workspace_lists_the_managers_own_customers(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        conversation = open_bank(me)
        manager.get("/staff/chat")
        mine = re.search(r'id="my-customers">(.*?)</section>', manager.page.text, re.S)
        assert mine
        assert "韩梅梅" in mine.group(1)
        assert "李雷" in mine.group(1)
        assert f'href="/staff/chat/{conversation}"' in mine.group(1)
        with platform.transaction() as session:
            listed = platform.chat.desk.customers(session, staff_id=manager.id)
        assert {(c.name, c.conversation_id) for c in listed} == {
            ("韩梅梅", conversation),
            ("李雷", None),
        }


class TestBetweenCustomers:
    def test_a_direct_chat_with_receipts_in_both_lists(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(me, friend)
        assert re.search(r'<h1 id="chat-title">李雷</h1>', me.page.text)
        say(me, "/chat", conversation, "周末一起吃饭")
        friend.get("/chat")
        assert unread(friend.page, conversation) == 1
        assert "周末一起吃饭" in friend.page.text  # the preview
        friend.get(f"/chat/{conversation}")
        assert entries(friend.page)[1][0] == "entry theirs"
        me.get(f"/chat/{conversation}")
        assert "已读" in entries(me.page)[1][1]

    def test_a_card_number_is_masked_for_the_other_side_and_the_sender_is_warned(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(me, friend)
        say(me, "/chat", conversation, "我的卡号是 6222 0202 0000 1234 562")
        assert "?masked=card_number" in str(me.page.url)
        warning = re.search(r'id="masked-warning"([^>]*)>(.*?)</p>', me.page.text, re.S)
        assert warning
        assert "hidden" not in warning.group(1)
        assert re.search(r'data-kind="card_number" >银行卡号', warning.group(2))
        friend.get(f"/chat/{conversation}")
        shown = entries(friend.page)[1][1]
        assert "6222 0202 0000 1234 562" not in shown
        assert "562" in shown

    def test_one_recalls_their_own_message_in_time_and_never_another_ones(
        self, me: WebCustomer, friend: WebCustomer, clock: FrozenClock
    ) -> None:
        conversation = direct(me, friend)
        say(me, "/chat", conversation, "发错了")
        say(me, "/chat", conversation, "这条留着")
        friend.get(f"/chat/{conversation}")
        assert "/recall" not in friend.page.text
        friend.client.post(
            f"/chat/{conversation}/messages/1/recall",
            data={"csrf": friend.csrf},
        )
        me.get(f"/chat/{conversation}")
        me.submit(f"/chat/{conversation}/messages/1/recall")
        assert entries(me.page)[1][0] == "entry mine gone"
        assert "你撤回了一条消息" in entries(me.page)[1][1]
        friend.get(f"/chat/{conversation}")
        assert "发错了" not in friend.page.text
        assert "对方撤回了一条消息" in entries(friend.page)[1][1]

        clock.advance(timedelta(seconds=121))
        me.get(f"/chat/{conversation}")
        assert f"/chat/{conversation}/messages/2/recall" not in me.page.text
        me.client.post(
            f"/chat/{conversation}/messages/2/recall",
            data={"csrf": me.csrf},
        )
        assert "这条留着" in entries(friend.get(f"/chat/{conversation}"))[2][1]

    def test_blocking_stops_direct_messages_until_unblocked(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(me, friend)
        friend.get(f"/chat/{conversation}")
        friend.submit("/chat/blocks", customer_id=me.id)
        assert 'id="chat-notice"' in friend.page.text
        say(me, "/chat", conversation, "为什么不理我")
        assert me.page.status_code == 403
        assert me.error == "您不能给此人发消息。"
        assert "为什么不理我" in me.page.text  # the draft is kept
        friend.get("/chat")
        assert "李雷" not in friend.page.text.split('id="blocked"')[0].split("<main>")[1]
        friend.submit("/chat/blocks", customer_id=me.id, block="false")
        say(me, "/chat", conversation, "在吗")
        assert me.page.status_code == 200

    def test_reporting_a_message_once(self, me: WebCustomer, friend: WebCustomer) -> None:
        conversation = direct(me, friend)
        say(me, "/chat", conversation, "加我私聊领红包")
        friend.get(f"/chat/{conversation}")
        friend.submit(f"/chat/{conversation}/messages/1/report", reason="诈骗")
        assert "已举报" in friend.page.text
        friend.submit(f"/chat/{conversation}/messages/1/report", reason="诈骗")
        assert friend.page.status_code == 409
        assert friend.error == "您已经举报过这条消息。"

    def test_a_number_shows_the_same_page_whoever_has_it_until_accepted(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        pages, asked = [], []
        for mobile in (friend.mobile, "13900009999"):
            asked.append(ask(me, mobile))
            page = me.page.text
            assert f"{mobile[:3]}****{mobile[-4:]}" in page  # the number as typed, masked
            assert "已发送聊天请求，等待对方接受" in page
            assert "李雷" not in page
            assert 'class="person"' not in page  # nobody shown, nor whether online
            pages.append(_normalised(page, asked[-1], mobile))
        assert pages[0] == pages[1]
        # The one asked sees a request from a masked name, and accepts it.
        friend.get(f"/chat/{asked[0]}")
        assert "*梅梅 想和您聊天" in friend.page.text
        assert 'id="send-form"' not in friend.page.text  # accepted before replied to
        friend.submit(f"/chat/{asked[0]}/accept")
        assert "韩梅梅" in friend.page.text
        assert 'id="send-form"' in friend.page.text
        assert "李雷" in me.get(f"/chat/{asked[0]}").text

    def test_ones_own_number_is_refused_in_words(self, me: WebCustomer) -> None:
        me.get("/chat")
        me.submit("/chat/direct", mobile=me.mobile)
        assert me.error == "不能和自己聊天。"

    def test_search_finds_only_ones_own_messages(
        self, me: WebCustomer, friend: WebCustomer, platform: Platform, manager: WebStaff
    ) -> None:
        conversation = direct(me, friend)
        say(me, "/chat", conversation, "明天去银行办理理财")
        with platform.transaction() as session:
            stranger = platform.chat.create_group(
                session, creator=Member(STAFF, manager.id), title="内部", customer_ids=[]
            ).conversation.id
            platform.chat.send(
                session, Member(STAFF, manager.id), conversation_id=stranger,
                client_id="x", body="理财内部消息",
            )  # fmt: skip
        friend.get("/chat/search?q=理财")
        results = re.search(r'id="search-results">(.*?)</ul>', friend.page.text, re.S)
        assert results
        assert "明天去银行办理理财" in results.group(1)
        assert f'href="/chat/{conversation}#m1"' in results.group(1)
        assert "内部消息" not in results.group(1)
        friend.get("/chat/search?q=没有的词")
        assert "没有找到相关消息" in friend.page.text


class TestTheList:
    def test_the_manager_first_then_people_then_channels(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
        with platform.transaction() as session:
            ops = platform.accounts.create_staff(
                session, username="ops9", name="运营", role="operations"
            )
            channel = platform.chat.create_channel(session, staff_id=ops, title="融银行公告")
        me.get("/chat")
        assert 'id="open-bank"' in me.page.text
        me.submit(f"/chat/channels/{channel.conversation.id}/subscription")
        direct(me, friend)
        bank = open_bank(me)
        me.get("/chat")
        order = re.findall(r'class="chat-item (\w+)" data-conversation', me.page.text)
        assert order == ["bank", "direct", "channel"]
        assert 'id="open-bank"' not in me.page.text
        assert f'data-conversation="{bank}"' in me.page.text

        me.get(f"/chat/{channel.conversation.id}")
        assert 'id="send-form"' not in me.page.text  # only the bank posts
        me.submit(f"/chat/channels/{channel.conversation.id}/subscription")  # unsubscribe
        assert "融银行公告" in me.page.text.split('id="channels"')[1]

    def test_a_kind_of_message_the_page_does_not_know_is_shown_as_such(
        self, platform: Platform
    ) -> None:
        future = Message(
            1, 1, "customer", 2, "x", "hologram", '{"shape": "cube"}', None, None, (),
            platform.clock.now(), recalled=False, hidden=False,
        )  # fmt: skip
        view = chat_views.message_view(
            future,
            member=Member("customer", 1),
            names={("customer", 2): "李雷"},
            now=platform.clock.now(),
            recall_window=timedelta(minutes=2),
            delivered_to=0,
            read_to=0,
        )
        page = templates.get_template("_chat_messages.html").render(
            t=translate("zh"),
            entries=[view],
            last_seq=1,
            people={"delivered_to": 0, "read_to": 0},
            conversation={"id": 1},
            prefix="/chat",
            csrf="c",
        )
        shown = Entries(page).found[1][1]
        assert "此类消息（hologram）暂不能在网页上显示" in shown
        assert "cube" not in page

    def test_a_group_of_customers_by_their_mobiles(
        self, me: WebCustomer, friend: WebCustomer, platform: Platform, clients: list[TestClient]
    ) -> None:
        eve = WebCustomer(browser(platform, clients), platform, "伊娃", "13900000703", 703)
        direct(me, friend)
        direct(me, eve)
        me.get("/chat")
        me.submit("/chat/groups", title="周末爬山", mobiles="13900000702，13900009999")
        assert me.page.status_code == 422
        assert me.error == "只能把已接受和您聊天的人加入群聊。"
        assert "13900009999" in me.page.text  # the form is kept
        me.submit("/chat/groups", title="周末爬山", mobiles=f"{friend.mobile}\n{eve.mobile}")
        group = conversation_of(me.page)
        assert "周末爬山" in me.page.text
        say(me, "/chat", group, "周六早上八点")
        for other in (friend, eve):
            other.get("/chat")
            assert unread(other.page, group) == 1
        eve.get(f"/chat/{group}")
        assert "周六早上八点" in entries(eve.page)[1][1]

    def test_one_hides_ones_online_status(
        self, me: WebCustomer, friend: WebCustomer, platform: Platform
    ) -> None:
        me.get("/chat")
        me.submit("/chat/presence", visible="false")
        assert "已隐藏我的在线状态" in me.page.text
        with platform.transaction() as session:
            assert not platform.chat.presence_visible(session, Member("customer", me.id))
        me.submit("/chat/presence", visible="true")
        assert "联系人可以看到我是否在线" in me.page.text

    def test_english(self, me: WebCustomer, friend: WebCustomer) -> None:
        conversation = direct(me, friend)
        me.client.cookies.set("rb_lang", "en")
        say(me, "/chat", conversation, "Hello")
        assert "Sent" in entries(me.page)[1][1]
        assert 'placeholder="Write a message"' in me.page.text


class TestLive:
    """What the page's script fetches: the entries after the last one it shows."""

    def test_only_newer_entries_and_a_recalled_message_again(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(me, friend)
        for words in ("一", "二", "三"):
            say(me, "/chat", conversation, words)
        fragment = friend.get(f"/chat/{conversation}/messages?after_seq=1")
        assert fragment.headers["cache-control"] == "no-store"
        assert sorted(entries(fragment)) == [2, 3]
        assert 'data-last-seq="3"' in fragment.text
        me.get(f"/chat/{conversation}")
        me.submit(f"/chat/{conversation}/messages/2/recall")
        fragment = friend.get(f"/chat/{conversation}/messages?after_seq=3")
        # The recall entry (4) re-renders the message it withdrew.
        assert list(entries(fragment)) == [2]
        assert entries(fragment)[2][0] == "entry theirs gone"
        assert "对方撤回了一条消息" in entries(fragment)[2][1]
        assert "二" not in entries(fragment)[2][1]
        assert 'data-last-seq="4"' in fragment.text

    def test_the_page_marks_what_it_shows_as_read_for_the_others(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(me, friend)
        say(me, "/chat", conversation, "看到了吗")
        fragment = me.get(f"/chat/{conversation}/messages?after_seq=0")
        assert 'data-read="0"' in fragment.text
        friend.get(f"/chat/{conversation}")
        fragment = me.get(f"/chat/{conversation}/messages?after_seq=0")
        assert 'data-read="1"' in fragment.text


class TestWhoSeesWhat:
    def test_a_customer_never_reaches_anothers_conversation(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff
    ) -> None:
        theirs = open_bank(friend)
        say(friend, "/chat", theirs, "我的秘密")
        csrf = me.csrf
        for method, url, data in (
            ("GET", f"/chat/{theirs}", None),
            ("GET", f"/chat/{theirs}/messages?after_seq=0", None),
            ("POST", f"/chat/{theirs}/messages", {"text": "偷看", "client_id": "x"}),
            ("POST", f"/chat/{theirs}/messages/1/recall", {}),
            ("POST", f"/chat/{theirs}/messages/1/report", {"reason": "x"}),
        ):
            answer = me.client.request(
                method, url, data=None if data is None else {**data, "csrf": csrf}
            )
            assert answer.status_code == 404, (method, url)
            assert "我的秘密" not in answer.text
        assert "偷看" not in str(entries(friend.get(f"/chat/{theirs}")))

    def test_forms_need_the_csrf_token(self, me: WebCustomer, friend: WebCustomer) -> None:
        conversation = direct(me, friend)
        answer = me.client.post(
            f"/chat/{conversation}/messages", data={"text": "x", "client_id": "y"}
        )
        assert answer.status_code == 403
        assert entries(me.get(f"/chat/{conversation}")) == {}

    def test_only_account_managers_have_a_desk_and_only_members_see_a_chat(
        self,
        me: WebCustomer,
        manager: WebStaff,
        platform: Platform,
        clients: list[TestClient],
    ) -> None:
        conversation = open_bank(me)
        ops = WebStaff(browser(platform, clients), platform, "ops1", "运营一")
        for url in ("/staff/chat", f"/staff/chat/{conversation}", "/staff/chat/desk"):
            assert ops.get(url).status_code == 403, url
        answer = ops.client.post("/staff/chat/duty", data={"on_duty": "false", "csrf": ops.csrf})
        assert answer.status_code == 403
        # A customer's session is not a staff session; nobody gets a login page.
        assert me.client.get("/staff/chat", follow_redirects=False).headers["location"] == (
            "/staff/login"
        )
        with TestClient(create_app(platform, background=False)) as nobody:
            for url in ("/chat", f"/chat/{conversation}", "/chat/search?q=x"):
                assert nobody.get(url, follow_redirects=False).headers["location"] == "/login"
        other = WebStaff(browser(platform, clients), platform, "zhao", "赵经理")
        assert other.get(f"/staff/chat/{conversation}").status_code == 404
        assert other.get(f"/staff/chat/{conversation}/messages").status_code == 404


def card_of(page: Any) -> tuple[int, str]:
    """The newest service card on a conversation page: its id and status."""
    found = re.findall(r'data-card="(\d+)" data-status="(\w+)"', page.text)
    assert found, page.text
    card_id, status = found[-1]
    return int(card_id), status


class TestServiceCards:
    def test_a_transfer_card_is_confirmed_with_a_challenge_and_used_once(
        self, me: WebCustomer, friend: WebCustomer, platform: Platform
    ) -> None:
        conversation = direct(me, friend)
        me.submit(f"/chat/{conversation}/cards", kind="transfer", amount="300", note="饭钱")
        card, status = card_of(me.page)
        assert status == "open"
        assert f'href="/chat/{conversation}/cards/{card}"' in me.page.text
        friend.get(f"/chat/{conversation}")
        assert card_of(friend.page) == (card, "open")
        assert "¥ 300.00" in friend.page.text
        assert f"/cards/{card}/act" not in friend.page.text  # only the sender pays
        assert friend.get(f"/chat/{conversation}/cards/{card}").status_code == 200
        assert f"/cards/{card}/act" not in friend.page.text

        me.get(f"/chat/{conversation}/cards/{card}")
        me.submit(f"/chat/{conversation}/cards/{card}/act")
        assert me.asked == "sms"  # over the password-free 200.00
        me.submit(f"/chat/{conversation}/cards/{card}/act", response=sms_code(platform, me.mobile))
        assert me.page.status_code == 200, me.error
        assert card_of(me.page) == (card, "paid")
        assert friend.balance() == 300_00
        assert me.balance() == 934_00
        friend.get(f"/chat/{conversation}")
        assert card_of(friend.page) == (card, "paid")
        assert "已完成" in friend.page.text

        me.get(f"/chat/{conversation}/cards/{card}")
        assert f"/cards/{card}/act" not in me.page.text
        csrf = me.csrf
        again = me.client.post(f"/chat/{conversation}/cards/{card}/act", data={"csrf": csrf})
        assert again.status_code == 409
        assert "这张卡片已经用过了" in again.text
        assert friend.balance() == 300_00

    def test_a_payment_request_is_paid_by_the_other_side_from_their_account(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(friend, me)
        friend.submit(f"/chat/{conversation}/cards", kind="request", amount="45.50")
        card, _ = card_of(friend.page)
        assert f"/cards/{card}/act" not in friend.page.text
        me.get(f"/chat/{conversation}/cards/{card}")
        me.submit(f"/chat/{conversation}/cards/{card}/act", account=me.account)
        assert card_of(me.page) == (card, "paid")  # within the password-free allowance
        assert friend.balance() == 45_50

    def test_a_card_is_declined_and_cannot_be_used_then(
        self, me: WebCustomer, friend: WebCustomer
    ) -> None:
        conversation = direct(friend, me)
        friend.submit(f"/chat/{conversation}/cards", kind="request", amount="10")
        card, _ = card_of(friend.page)
        me.get(f"/chat/{conversation}")
        me.submit(f"/chat/{conversation}/cards/{card}/decline")
        assert card_of(me.page) == (card, "declined")
        me.get(f"/chat/{conversation}/cards/{card}")
        csrf = me.csrf
        answer = me.client.post(
            f"/chat/{conversation}/cards/{card}/act", data={"csrf": csrf, "account": me.account}
        )
        assert answer.status_code == 409
        assert friend.balance() == 0

    def test_a_bad_amount_or_a_card_in_the_bank_chat_is_refused_in_words(
        self, me: WebCustomer, friend: WebCustomer, manager: WebStaff
    ) -> None:
        conversation = direct(me, friend)
        me.submit(f"/chat/{conversation}/cards", kind="transfer", amount="1.234")
        assert me.page.status_code == 422
        assert me.error == "金额最多保留两位小数。"
        bank = open_bank(me)
        csrf = me.csrf
        answer = me.client.post(
            f"/chat/{bank}/cards",
            data={"csrf": csrf, "kind": "transfer", "account": me.account, "amount": "5"},
        )
        assert answer.status_code == 422
        assert "这类卡片不能在此会话中发送" in answer.text

    def test_no_one_else_sees_or_acts_on_a_card(
        self, me: WebCustomer, friend: WebCustomer, platform: Platform, clients: list[TestClient]
    ) -> None:
        conversation = direct(me, friend)
        me.submit(f"/chat/{conversation}/cards", kind="transfer", amount="20")
        card, _ = card_of(me.page)
        eve = WebCustomer(browser(platform, clients), platform, "伊娃", "13900000703", 703)
        csrf = eve.csrf
        assert eve.get(f"/chat/{conversation}/cards/{card}").status_code == 404
        for action in ("act", "decline"):
            answer = eve.client.post(
                f"/chat/{conversation}/cards/{card}/{action}", data={"csrf": csrf}
            )
            assert answer.status_code == 404, action
        assert me.balance() == 1_234_00

    def test_the_manager_offers_a_wealth_product_and_the_customer_buys_it(
        self, me: WebCustomer, manager: WebStaff, platform: Platform
    ) -> None:
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
        assessed(platform, me.id)  # 理财 suitability: before any purchase
        conversation = open_bank(me)
        say(me, "/chat", conversation, "有短期理财吗")
        manager.get(f"/staff/chat/{conversation}")
        manager.submit(f"/staff/chat/{conversation}/cards", product_code="RB30", note="30天")
        card, status = card_of(manager.page)
        assert status == "open"
        assert "融银稳利30天" in manager.page.text
        assert "预期年化 2.85%" in manager.page.text

        me.get(f"/chat/{conversation}/cards/{card}")
        # bought now (a Monday morning), it earns from today
        assert 'id="card-value-date">2026-03-02<' in me.page.text
        me.submit(f"/chat/{conversation}/cards/{card}/act", account=me.account, amount="150")
        assert me.page.status_code == 422  # not a whole step
        me.submit(f"/chat/{conversation}/cards/{card}/act", account=me.account, amount="200")
        assert card_of(me.page) == (card, "paid"), me.error
        assert "起息日 2026-03-02" in me.page.text  # the paid card says from when it earns
        assert me.balance() == 1_034_00
        with platform.transaction() as session:
            (holding,) = platform.wealth.holdings(session, me.id)
        assert holding.amount == 200_00

    def test_every_chat_page_needs_a_login_of_its_kind(
        self, platform: Platform, me: WebCustomer
    ) -> None:
        """Walks every chat route, so that a new one without its check fails here."""
        routes = [
            (method, route.path)
            for router in (chat_pages.router, chat_card_pages.router, chat_desk_pages.router)
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods
        ]
        assert len(routes) > 25
        with TestClient(create_app(platform, background=False)) as nobody:
            for method, path in routes:
                url = re.sub(r"\{\w+(:int)?\}", "1", path)
                answer = nobody.request(method, url, follow_redirects=False)
                login = "/staff/login" if path.startswith("/staff") else "/login"
                assert (answer.status_code, answer.headers.get("location")) == (303, login), (
                    method,
                    path,
                )
                # A customer's session opens no staff page.
                answer = me.client.request(method, url, follow_redirects=False)
                if path.startswith("/staff"):
                    assert answer.headers.get("location") == "/staff/login", (method, path)


class TestAttachments:
    def test_an_image_and_a_file_show_and_download_for_the_other_side_only(
        self, me: WebCustomer, friend: WebCustomer, platform: Platform, clients: list[TestClient]
    ) -> None:
        conversation = direct(me, friend)
        with platform.transaction() as session:
            for client_id, name, data in (
                ("p", "photo.png", png_with_text()),
                ("f", "账单.txt", "三月账单 合计 120 元".encode()),
            ):
                platform.attachments.send(
                    session, Member("customer", me.id), conversation_id=conversation,
                    client_id=client_id, name=name, data=data, caption="给你看看",
                )  # fmt: skip
        friend.get(f"/chat/{conversation}")
        image, file = entries(friend.page)[1], entries(friend.page)[2]
        assert "给你看看" in image[1]
        assert "账单.txt" in file[1]
        src = f"/chat/{conversation}/messages/1/attachment"
        assert f'<img class="chat-image" src="{src}"' in friend.page.text
        download = friend.client.get(src)
        assert download.status_code == 200
        assert download.headers["content-type"] == "image/png"
        assert "sandbox" in download.headers["content-security-policy"]
        text_file = friend.client.get(f"/chat/{conversation}/messages/2/attachment")
        assert text_file.content.decode() == "三月账单 合计 120 元"
        eve = WebCustomer(browser(platform, clients), platform, "伊娃", "13900000703", 703)
        assert eve.client.get(src).status_code == 404
