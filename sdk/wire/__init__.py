"""The wire: what the client, the scheduler and the workers share.

Redis names (`keys`), control messages and their checks (`messages`, `control`), the `Report`
codec (`reports`), chunks of attempts (`chunks`), attempt leases and claims (`leases`),
signing (`signing`), dead letters (`dead`), the status board (`board`; a finished result's
fields in `results`), the launch plan board (`launch_plans`), submissions kept in the store
(`submissions`), serialized cache runs (`cache_lock`), the Celery app's shape (`celery_app`),
tier queues (`tiers`) and Redis connections (`connections`). The user's client is
`sdk.remote`, on top of it.
"""
