"""The built-in case desk: intake addresses, cases and leads."""
