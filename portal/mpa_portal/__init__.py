"""pg_mpa's approval portal: approvers review and vote in a browser.

An application of pg_mpa's public SQL interface and nothing more: every
page is a query or a call made on a connection authenticated as the
signed-in role (docs/decisions.md, "The approval portal").
"""
