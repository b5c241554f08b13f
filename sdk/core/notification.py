"""`sdk.core.notification`, as `flytekit.core.notification`."""

from sdk.authoring.notification import Email, Notification, PagerDuty, Slack

__all__ = ["Email", "Notification", "PagerDuty", "Slack"]
