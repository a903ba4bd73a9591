from channels_lite.router import ChannelsRouter


class ChannelLayerRouter(ChannelsRouter):
    """channels-lite's router, plus: nothing but the channel layer's tables goes into its file."""

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints):
        if db == self.database:
            return app_label in self.route_app_labels
        return super().allow_migrate(db, app_label, model_name, **hints)
