"""Server-rendered pages: the web bank and the staff console."""
