from django.urls import path

from atom_site.consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/events/<str:group>/", EventsConsumer.as_asgi()),
]
