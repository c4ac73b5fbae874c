"""Operations: what staff use to watch and repair the job engine.

The pages under /ops/, /healthz and /metrics; reads of RQ's queues, workers and failed
sets (selectors); writes to the failed sets (services); alerts; and the admin. The
engine (the package above) imports nothing from here: a project can run jobs without
this app, and this app adds the staff side.
"""
