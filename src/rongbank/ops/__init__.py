"""Operations: backups and point-in-time recovery, and what the operations staff see
of the running bank (``rongbank.ops.status``)."""
