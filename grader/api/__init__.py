"""The HTTP API and pages: accepts uploads and shows reports; never runs student code or imports torch."""
