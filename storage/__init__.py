"""Storage: SQLModel tables and small query functions.

Every function takes the caller's open ``Session`` first and never commits: the caller owns the
transaction, so a state change, its outbox rows and the inbound dedupe row commit together.
"""
