"""e-Pay (工银e支付): merchants, QR and payment-code payments, online orders with
signed notifications, authorise-then-capture, refunds, settlement and reconciliation.
"""
