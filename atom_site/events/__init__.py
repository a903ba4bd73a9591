"""Live events: persisted per subject with a gapless sequence number (`record`), published on
the channel layer after the commit (`publish`), read back by websockets and HTTP (`read`)."""

from atom_site.events.publish import EventPublisher, apublish_event, publisher

__all__ = ["EventPublisher", "apublish_event", "publisher"]
