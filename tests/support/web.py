"""The web bank as a customer without JavaScript uses it: pages read, forms submitted."""

from __future__ import annotations

import base64
import html
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.factories.people import PASSWORD
from tests.support.sms import sms_code


def browser(platform: Platform, clients: list[TestClient]) -> TestClient:
    """A browser of its own (its cookies), entered, on the test's one app: the first
    makes the app, the others in ``clients`` share it, as one bank serves everyone (a
    new app's first request indexes every route, half a second of CPU each time).
    ``clients``' owner exits them at the end of the test."""
    app = clients[0].app if clients else create_app(platform, background=False)
    client = TestClient(app)
    client.__enter__()
    clients.append(client)
    return client


class Forms(HTMLParser):
    """The forms of a page: each one's action and the fields it would send (the
    submit buttons left out: a test names the one it presses)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), []))
        elif tag == "input" and self.forms and "name" in a:
            self.forms[-1][1].append((a["name"], a.get("value", "")))
        elif tag == "textarea" and self.forms:
            self._textarea = a.get("name")
            self.forms[-1][1].append((a["name"], ""))
        elif tag == "select" and self.forms:
            self._select = a.get("name")
        elif tag == "option" and self._select is not None:
            fields = self.forms[-1][1]
            chosen = [i for i, (name, _) in enumerate(fields) if name == self._select]
            if not chosen:  # the first option, unless another is selected
                fields.append((self._select, a.get("value", "")))
            elif "selected" in a:
                fields[chosen[0]] = (self._select, a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.forms[-1][1].pop()
            self.forms[-1][1].append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_token(page: str) -> str:
    """The CSRF token a page's forms carry."""
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


class WebCustomer:
    """One customer's browser without JavaScript: reads pages, submits their forms."""

    home = "/accounts"
    """A page of this browser's session, whose forms carry its CSRF token."""

    def __init__(
        self, client: TestClient, platform: Platform, name: str, mobile: str, sequence: int
    ) -> None:
        self.client, self.platform, self.mobile = client, platform, mobile
        self.page = self.client.get("/register")
        self.submit(
            "/register",
            name=name,
            mobile=mobile,
            resident_id=resident_id(sequence),
            password=PASSWORD,
        )
        self.submit("/login", login_name=mobile, password=PASSWORD)
        match = re.search(r'data-number="(\d+)"', self.page.text)
        assert match, self.page.text
        self.account = match.group(1)
        with platform.transaction() as session:
            self.id = platform.accounts.account(session, self.account).customer_id

    def get(self, url: str) -> Any:
        self.page = self.client.get(url)
        return self.page

    def submit(self, action: str, *, press: tuple[str, str] | None = None, **fields: Any) -> Any:
        """Submit the page's (first) form to ``action`` with some fields filled in;
        ``press`` names the button pressed, when it sends a value."""
        found = [f for a, f in Forms(self.page.text).forms if a == action]
        assert found, f"no form for {action} on the page"
        data: list[tuple[str, str]] = [(k, v) for k, v in found[0] if k not in fields]
        for name, value in fields.items():
            values = value if isinstance(value, list) else [value]
            data.extend((name, str(v)) for v in values)
        if press:
            data.append(press)
        self.page = self.client.post(
            action,
            content=urlencode(data),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return self.page

    def post(self, action: str, **fields: Any) -> Any:
        """Send a form that no page shows now (kept from an older page, or made by
        hand), with this session's CSRF token."""
        self.page = self.client.post(action, data={"csrf": self.csrf, **fields})
        return self.page

    def change(self, action: str, **fields: Any) -> Any:
        """Submit a security change, answering the SMS code the bank asks for."""
        self.submit(action, **fields)
        if 'id="confirm-change"' in self.page.text:
            self.submit(action, response=sms_code(self.platform, self.mobile))
        return self.page

    def transfer(self, destination: str, amount: str) -> Any:
        """Fill in and review a transfer, and press confirm: the bank pays, or asks."""
        self.get("/transfer")
        self.submit("/transfer", destination=destination, amount=amount)
        assert self.page.status_code == 200, self.error
        return self.submit("/transfer/confirm")

    @property
    def csrf(self) -> str:
        """The CSRF token of this browser's session, as its pages' forms carry it."""
        return form_token(self.client.get(self.home).text)

    @property
    def asked(self) -> str | None:
        """The tool the page asks to answer with; None when it asks none."""
        match = re.search(r'id="challenge" data-tool="(\w+)"', self.page.text)
        return match.group(1) if match else None

    @property
    def challenge(self) -> dict[str, Any]:
        """The challenge the page shows, as its form carries it."""
        assert self.asked is not None, self.page.text
        fields = dict(
            f for a, fs in Forms(self.page.text).forms for f in fs if a.endswith("confirm")
        )
        shown: dict[str, Any] = json.loads(base64.urlsafe_b64decode(fields["challenge"]))
        assert shown["tool"] == self.asked
        assert shown["id"] == fields["challenge_id"]
        return shown

    @property
    def error(self) -> str:
        match = re.search(r'<p class="alert" role="alert">(.*?)</p>', self.page.text, re.S)
        return html.unescape(match.group(1)) if match else ""

    def balance(self) -> int:
        with self.platform.transaction() as session:
            account = self.platform.accounts.account(session, self.account)
            return self.platform.accounts.available(session, account)


class WebStaff(WebCustomer):
    """A member of staff's browser without JavaScript, logged in to the console."""

    home = "/staff"

    def __init__(
        self,
        client: TestClient,
        platform: Platform,
        username: str,
        name: str,
        role: str = "account_manager",
    ) -> None:
        self.client, self.platform, self.role = client, platform, role
        with platform.transaction() as session:
            self.id = platform.accounts.create_staff(
                session, username=username, name=name, role=role
            )
            platform.auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=self.id,
                username=username,
                password=PASSWORD,
            )
        self.page = client.get("/staff/login")
        self.submit("/staff/login", username=username, password=PASSWORD)
        assert self.page.status_code == 200, self.page.text

    @property
    def notice(self) -> str:
        match = re.search(r'<p class="notice"[^>]*>(.*?)</p>', self.page.text, re.S)
        return html.unescape(match.group(1)) if match else ""


# -- chats between customers ------------------------------------------------------------


def conversation_of(page: Any) -> int:
    """The conversation a chat page shows."""
    match = re.search(r'id="chat" data-live-as="\w+" data-conversation="(\d+)"', page.text)
    assert match, page.text
    return int(match.group(1))


def say(person: WebCustomer, prefix: str, conversation_id: int, words: str) -> Any:
    person.get(f"{prefix}/{conversation_id}")
    return person.submit(f"{prefix}/{conversation_id}/messages", text=words)


def ask(me: WebCustomer, mobile: str) -> int:
    """``me`` asks for a chat by mobile number: the request's page."""
    me.get("/chat")
    me.submit("/chat/direct", mobile=mobile)
    assert me.page.status_code == 200, me.error
    return conversation_of(me.page)


def direct(me: WebCustomer, other: WebCustomer) -> int:
    """A chat ``me`` asked for and ``other`` accepted on its page: contacts, each on
    the chat's page."""
    conversation = ask(me, other.mobile)
    other.get(f"/chat/{conversation}")
    other.submit(f"/chat/{conversation}/accept")
    assert other.page.status_code == 200, other.error
    me.get(f"/chat/{conversation}")
    return conversation
