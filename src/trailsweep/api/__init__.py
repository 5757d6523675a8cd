"""The public API, between the CLI and the layers below it: what `trailsweep/__init__.py`
re-exports (programs import it from there, never from here).

    stream     open_sweep: a sweep as an async iterator of events, with its live report
    threaded   iter_events: the same as a plain iterator, the sweep on its own thread
    exporting  export: the resumable, exactly-once file export (lock, checkpoint, resume)
    parts      export_parts: the same into NDJSON parts of a directory, for log shippers
    lookup     lookup_events: one account and region, as `aws cloudtrail lookup-events`
               (and the AWS CLI's document that `trailsweep lookup-events` prints)
    coverage   how far a sweep got: its pairs and the share of the window covered
    preflight  the CLI's checks before any call (endpoint, writable files), whole writes

The CLI imports only this layer, `trailsweep`, settings and base (pyproject.toml's
import-linter contract "The CLI goes through the public API").
"""
