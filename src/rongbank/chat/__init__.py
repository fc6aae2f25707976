"""融e联 e-Link: conversations between customers and with the bank, real time."""
