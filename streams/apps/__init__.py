"""The applications: worker, intake, replay, bridge, query API, demo and watch.

They sit on top and share one CLI set-up (:mod:`streams.apps.cliargs`); nothing below
imports them.
"""
