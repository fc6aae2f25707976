"""The web bank's words, in Chinese (the default) and English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "bank": "融银行",
        "tagline": "安心的网上银行",
        "login": "登录",
        "logout": "退出",
        "register": "注册开户",
        "login_name": "手机号",
        "password": "登录密码",
        "name": "姓名",
        "mobile": "手机号",
        "resident_id": "居民身份证号",
        "accounts": "我的账户",
        "account_number": "账号",
        "account_class": "账户类别",
        "class_1": "Ⅰ类户",
        "class_2": "Ⅱ类电子账户",
        "class_3": "Ⅲ类电子账户",
        "available": "可用余额",
        "status": "状态",
        "status_active": "正常",
        "status_frozen": "冻结",
        "status_dormant": "久悬",
        "status_closed": "销户",
        "transfer": "转账",
        "from_account": "付款账户",
        "to_account": "收款账号",
        "amount": "金额（元）",
        "note": "附言",
        "next": "下一步",
        "confirm": "确认转账",
        "back": "返回修改",
        "confirm_title": "请核对转账信息",
        "transfer_done": "转账成功",
        "no_account": "还没有账号？",
        "have_account": "已有账号？",
        "language": "English",
        "registered": "开户成功，请登录。",
        "staff_console": "员工工作台",
        "staff_login": "员工登录",
        "username": "用户名",
        "find_customer": "查找客户",
        "search": "查询",
        "customer": "客户",
        "manager": "客户经理",
        "freeze": "冻结",
        "unfreeze": "解冻",
        "reason": "原因",
        "reassign": "更换客户经理",
        "save": "保存",
        "none": "无",
        "history": "交易明细",
        "topup": "充值",
        "statement": "下载对账单",
        "period": "期间",
        "time": "时间",
        "counterparty": "对方账户",
        "balance": "余额",
        "more": "更多",
        "no_movements": "暂无交易",
        "card": "他行银行卡",
        "bind_card": "绑定他行银行卡",
        "card_number": "卡号",
        "holder_name": "持卡人姓名",
        "topup_succeeded": "充值成功",
        "topup_failed": "充值失败，对方银行拒绝了扣款",
        "topup_unknown": "充值处理中，结果稍后更新",
        "topup_pending": "充值处理中，结果稍后更新",
        "security": "安全中心",
        "tools": "我的安全工具",
        "tool": "安全工具",
        "tool_sms": "短信验证码",
        "tool_grid_card": "口令卡",
        "tool_token": "电子密码器",
        "tool_ukey": "U盾",
        "password_free": "小额免密",
        "tool_status_active": "正常",
        "tool_status_blocked": "已锁定",
        "tool_status_revoked": "已注销",
        "tool_status_expired": "已失效",
        "serial": "序列号",
        "issued": "启用日期",
        "blocked_hint": "已锁定的工具请到柜台或联系客户经理解锁，或申领新的。",
        "revoke": "注销",
        "revoke_confirm": "注销后此工具永远不能再使用。确定注销吗？",
        "revoked": "已注销。",
        "get_tools": "申领安全工具",
        "get_grid_card": "申领口令卡",
        "get_grid_card_hint": (
            "口令卡的密码只在申领后显示这一次：请立即下载并打印。新卡会替换旧卡。"
        ),
        "grid_card_ready": "您的新口令卡",
        "grid_card_pdf": "下载可打印的口令卡（PDF）",
        "grid_card_json": "下载卡片文件（供 rongbank device 使用）",
        "get_token": "申领电子密码器",
        "get_token_hint": "新的电子密码器会替换旧的。",
        "token_ready": "您的新电子密码器",
        "token_save": (
            "请把下面的密钥文件保存到您的设备上（例如 token.json），用于 rongbank device token。"
        ),
        "shown_once": "此内容只显示这一次，本行不会再次显示。",
        "download": "下载",
        "register_ukey": "登记U盾",
        "register_ukey_hint": "粘贴U盾生成的证书请求（CSR，PEM 格式）。",
        "csr": "证书请求（PEM）",
        "ukey_ready": "U盾已登记",
        "certificate": "证书",
        "subject": "主体",
        "valid_from": "生效时间",
        "valid_until": "失效时间",
        "fingerprint": "SHA-256 指纹",
        "back_to_security": "返回安全中心",
        "your_limits": "我的支付限额",
        "limits_hint": "您可以在本行限额以内自行调低每笔和每日限额；留空表示采用本行限额。",
        "per_payment": "每笔",
        "daily": "每日",
        "bank_limit": "本行限额",
        "own_limit": "自设限额",
        "used_today": "今日已用",
        "limit_saved": "限额已保存。",
        "challenge_title": "请验证您的身份",
        "challenge_sms": "我们已向您的手机 {mobile} 发送验证码，请输入6位验证码。",
        "challenge_grid_card": "请在口令卡上找到以下位置的密码并输入：",
        "challenge_token": "请在电子密码器上输入以下数字：",
        "challenge_token_layout": (
            "{payee} 是收款账号的后6位，{amount} 是以分为单位的金额（不足10位前面补0）。"
            "然后输入密码器显示的8位数字。"
        ),
        "challenge_ukey": "请用U盾对下面的文字签名（一字不差），并粘贴 base64 格式的签名：",
        "challenge_ukey_file": "下载待签名文字",
        "challenge_until": "有效期至 {until}",
        "code": "验证码",
        "token_code": "8位动态口令",
        "signature": "签名（base64）",
        "device_hint": "没有实体设备时：",
        "use_instead": "改用{tool}",
        "response_missing": "请输入口令。",
    },
    "en": {
        "bank": "Rongbank",
        "tagline": "Internet banking you can trust",
        "login": "Log in",
        "logout": "Log out",
        "register": "Open an account",
        "login_name": "Mobile number",
        "password": "Password",
        "name": "Full name",
        "mobile": "Mobile number",
        "resident_id": "Resident ID number",
        "accounts": "My accounts",
        "account_number": "Account number",
        "account_class": "Class",
        "class_1": "Class I account",
        "class_2": "Class II e-account",
        "class_3": "Class III e-account",
        "available": "Available",
        "status": "Status",
        "status_active": "Active",
        "status_frozen": "Frozen",
        "status_dormant": "Dormant",
        "status_closed": "Closed",
        "transfer": "Transfer",
        "from_account": "From account",
        "to_account": "To account number",
        "amount": "Amount (CNY)",
        "note": "Note",
        "next": "Next",
        "confirm": "Confirm transfer",
        "back": "Change",
        "confirm_title": "Please check the transfer",
        "transfer_done": "Transfer completed",
        "no_account": "New to Rongbank?",
        "have_account": "Already a customer?",
        "language": "中文",
        "registered": "Your account is open. Please log in.",
        "staff_console": "Staff console",
        "staff_login": "Staff log in",
        "username": "User name",
        "find_customer": "Find a customer",
        "search": "Search",
        "customer": "Customer",
        "manager": "Account manager",
        "freeze": "Freeze",
        "unfreeze": "Unfreeze",
        "reason": "Reason",
        "reassign": "Change account manager",
        "save": "Save",
        "none": "None",
        "history": "History",
        "topup": "Top up",
        "statement": "Download a statement",
        "period": "Period",
        "time": "Time",
        "counterparty": "Counterparty",
        "balance": "Balance",
        "more": "More",
        "no_movements": "No movements yet",
        "card": "Card at another bank",
        "bind_card": "Bind a card at another bank",
        "card_number": "Card number",
        "holder_name": "Cardholder name",
        "topup_succeeded": "Topped up",
        "topup_failed": "Top-up failed: the card's bank refused",
        "topup_unknown": "Top-up in progress; the result follows shortly",
        "topup_pending": "Top-up in progress; the result follows shortly",
        "security": "Security",
        "tools": "Your authentication tools",
        "tool": "Tool",
        "tool_sms": "SMS code",
        "tool_grid_card": "Grid card",
        "tool_token": "Token",
        "tool_ukey": "U盾 signing key",
        "password_free": "Password-free",
        "tool_status_active": "Active",
        "tool_status_blocked": "Blocked",
        "tool_status_revoked": "Revoked",
        "tool_status_expired": "Expired",
        "serial": "Serial",
        "issued": "Issued",
        "blocked_hint": (
            "A blocked tool is unblocked at a branch or by your account manager; or get a new one."
        ),
        "revoke": "Revoke",
        "revoke_confirm": "A revoked tool can never be used again. Revoke it?",
        "revoked": "Revoked.",
        "get_tools": "Get an authentication tool",
        "get_grid_card": "Get a grid card",
        "get_grid_card_hint": (
            "The card's codes are shown only once, right after you get it: download and print it "
            "at once. A new card replaces the old one."
        ),
        "grid_card_ready": "Your new grid card",
        "grid_card_pdf": "Download the printable card (PDF)",
        "grid_card_json": "Download as a card file for rongbank device",
        "get_token": "Get a token",
        "get_token_hint": "A new token replaces the old one.",
        "token_ready": "Your new token",
        "token_save": (
            "Save this key file on your device (e.g. as token.json) for rongbank device token."
        ),
        "shown_once": "This is shown only once; the bank will never show it again.",
        "download": "Download",
        "register_ukey": "Register a U盾",
        "register_ukey_hint": "Paste the certificate request (CSR, PEM) your U盾 made.",
        "csr": "Certificate request (PEM)",
        "ukey_ready": "Your U盾 is registered",
        "certificate": "Certificate",
        "subject": "Subject",
        "valid_from": "Valid from",
        "valid_until": "Valid until",
        "fingerprint": "SHA-256 fingerprint",
        "back_to_security": "Back to Security",
        "your_limits": "Your limits",
        "limits_hint": (
            "You may lower any limit below the bank's, per payment and per day; leave a figure "
            "empty to keep the bank's."
        ),
        "per_payment": "Per payment",
        "daily": "Per day",
        "bank_limit": "Bank's limit",
        "own_limit": "Your limit",
        "used_today": "Used today",
        "limit_saved": "Your limit is saved.",
        "challenge_title": "Confirm it is you",
        "challenge_sms": "We sent a code to your mobile {mobile}. Enter the 6 digits.",
        "challenge_grid_card": "Enter the codes at these positions of your grid card:",
        "challenge_token": "Key this number into your token:",
        "challenge_token_layout": (
            "{payee} is the last 6 digits of the payee's account, {amount} the amount in fen "
            "(padded to 10 digits). Then enter the 8 digits the token shows."
        ),
        "challenge_ukey": "Sign exactly this text with your U盾 and paste the base64 signature:",
        "challenge_ukey_file": "Download the text to sign",
        "challenge_until": "Valid until {until}",
        "code": "Code",
        "token_code": "8-digit code",
        "signature": "Signature (base64)",
        "device_hint": "Without the hardware:",
        "use_instead": "Use {tool} instead",
        "response_missing": "Please enter the code.",
    },
}

# Business errors shown on pages: Chinese texts for the codes customers meet most;
# any other error shows its own (English) message.
ERRORS_ZH: dict[str, str] = {
    "login_failed": "手机号或密码错误。",
    "login_locked": "登录失败次数过多，账户已暂时锁定，请稍后再试。",
    "insufficient_funds": "可用余额不足。",
    "daily_limit_exceeded": "超过本账户当日转账限额。",
    "yearly_limit_exceeded": "超过本账户年度转账限额。",
    "balance_cap_exceeded": "收款账户余额将超过其类别上限。",
    "account_frozen": "账户已冻结，请联系您的客户经理。",
    "account_number_invalid": "账号有误，请逐位核对。",
    "account_not_found": "收款账户不存在。",
    "account_not_accessible": "只能从本人账户付款。",
    "same_account": "收款账户不能与付款账户相同。",
    "amount_precision_exceeded": "金额最多保留两位小数。",
    "amount_not_positive": "金额必须大于零。",
    "invalid_amount": "请输入正确的金额，例如 12.30。",
    "amount_out_of_range": "金额过大。",
    "resident_id_check_digit_wrong": "身份证号校验位错误，请核对。",
    "resident_id_malformed": "身份证号应为18位。",
    "resident_id_birth_date_invalid": "身份证号中的出生日期无效。",
    "customer_too_young": "未达到开户的最低年龄。",
    "mobile_number_invalid": "手机号格式不正确。",
    "customer_already_registered": "该手机号或身份证号已开户。",
    "weak_password": "密码至少8位，需包含字母、数字或符号中的两种，且不能包含手机号或证件号。",
    "username_taken": "该手机号已注册。",
    "csrf_failed": "页面已过期，请重试。",
    "card_number_invalid": "卡号有误，请核对。",
    "card_holder_mismatch": "只能绑定本人名下的银行卡。",
    "card_already_bound": "这张卡已经绑定。",
    "bound_card_limit_reached": "最多绑定5张银行卡。",
    "challenge_failed": "口令不正确。再错{attempts_left}次，此安全工具将被锁定。",
    "tool_blocked": "此安全工具因多次输错已被锁定。请到柜台或联系客户经理解锁，或申领新的。",
    "challenge_expired": "验证已过期或已使用，请重新确认转账。",
    "challenge_mismatch": "此验证不属于这笔转账，请重新确认转账。",
    "challenge_not_found": "没有找到这个验证，请重新确认转账。",
    "stronger_tool_required": (
        "这笔转账需要更高级别的安全工具（{tools}）。请在安全中心申领，或减少金额。"
    ),
    "tool_limit_exceeded": "超过安全工具今日或本年度可支付的额度。剩余额度：{remaining}。",
    "payment_refused_risk": "这笔转账被风险控制拦截。如确需支付，请致电本行或联系客户经理。",
    "tool_not_held": "您没有这种安全工具，或它不能确认这笔转账。",
    "tool_not_active": "此安全工具已锁定、注销或失效。",
    "tool_not_found": "没有找到这个安全工具。",
    "certificate_request_invalid": (
        "证书请求无效：请粘贴由 P-256 或 Ed25519 密钥签名的 PEM 格式请求（可用 rongbank device "
        "ukey-new 生成）。"
    ),
    "own_limit_invalid": "自设限额不能小于零，也不能高于本行限额（{bank_limit}）。",
    "response_missing": "请输入口令。",
}

# English texts for refusals whose details the customer needs to see; any other
# error shows its own message.
ERRORS_EN: dict[str, str] = {
    "stronger_tool_required": (
        "This payment needs a stronger authentication tool ({tools}). Get one under "
        "Security, or pay less."
    ),
    "tool_limit_exceeded": (
        "This payment is over what your authentication tools may authorise today or this "
        "year. Left: {remaining}."
    ),
    "own_limit_invalid": (
        "Your own limit must be zero or more and at most the bank's ({bank_limit})."
    ),
    "response_missing": "Please enter the code.",
}


def translate(lang: str) -> dict[str, str]:
    return MESSAGES.get(lang, MESSAGES["zh"])


def error_text(lang: str, code: str, message: str, details: Mapping[str, Any] | None = None) -> str:
    """The refusal in the customer's language, with its details filled in (tool kinds
    named as the customer knows them); the error's own message when there is no text
    for it, or the text needs a detail the error does not carry."""
    template = (ERRORS_ZH if lang == "zh" else ERRORS_EN).get(code)
    if template is None:
        return message
    words = translate(lang)
    tool = {kind: words.get(f"tool_{kind}", kind) for kind in ("sms", "grid_card", "token", "ukey")}
    values: dict[str, Any] = dict(details or {})
    if isinstance(values.get("tools"), list):
        values["tools"] = ("、" if lang == "zh" else ", ").join(
            tool.get(str(k), str(k)) for k in values["tools"]
        )
    if isinstance(values.get("remaining"), dict):
        values["remaining"] = "; ".join(
            f"{tool.get(str(k), str(k))} ¥ {v}" for k, v in values["remaining"].items()
        )
    try:
        return template.format_map(values)
    except (KeyError, IndexError):
        return message
