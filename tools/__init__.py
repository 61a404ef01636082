"""Pure helpers of api_sync: no ORM access, importable and testable on their own."""
