"""The company's domains, accounts and groups: the recognized addresses."""
