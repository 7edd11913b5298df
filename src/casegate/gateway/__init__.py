"""The SMTP gateway: accepts mail for the company's domains and stores it durably."""
