from django.urls import path

from atom_site.consumers import (
    EventsConsumer,
    InstallEventsConsumer,
    RunEventsConsumer,
    SkillRunEventsConsumer,
)

websocket_urlpatterns = [
    path("ws/events/<str:group>/", EventsConsumer.as_asgi()),
    path("ws/runs/<int:pk>/", RunEventsConsumer.as_asgi()),
    path("ws/installs/<int:pk>/", InstallEventsConsumer.as_asgi()),
    path("ws/skill-runs/<int:pk>/", SkillRunEventsConsumer.as_asgi()),
]
