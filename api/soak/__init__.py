"""The soak: a seeded simulation of the service's books under every interleaving (``medrelief soak``).

Like the simulators of the most trusted ledgers (TigerBeetle's VOPR, FoundationDB's simulation,
Jepsen's checked histories), it runs seeded random histories against a real server — settlements
over all three protocols, retries with the same key and another body, reversals, back-dated grants
and revocations, bursts of concurrent claims for one person, bad requests, the year's second
payout, and with ``--faults`` the server killed mid-burst or the database restarted — and checks
every invariant after every step against a model written apart from the service
(:mod:`~api.soak.model`: the public batch engine on the history so far). A failing seed replays,
and the history is shrunk to the shortest that still fails.

- :mod:`~api.soak.workload` — the seeded history; :mod:`~api.soak.protocols` — a claim as each
  protocol sends it; :mod:`~api.soak.acts` — each kind of step and the answer it must get;
- :mod:`~api.soak.runner` — a run's server, books, model and checks; :mod:`~api.soak.history` —
  running a history, shrinking a failing one; :mod:`~api.soak.servers` — throwaway databases and
  service processes (the API tests use them too).
"""
