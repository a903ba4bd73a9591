from django.apps import AppConfig


class PerfConfig(AppConfig):
    name = "perf"
    verbose_name = "Performance"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django_q.signals import post_execute_in_worker

        from perf.recording import flush_if_due

        # Long-lived processes write their buffered samples when a request or a task ends,
        # not only when the next sample arrives.
        request_finished.connect(flush_if_due, dispatch_uid="perf_flush_after_request")
        post_execute_in_worker.connect(flush_if_due, dispatch_uid="perf_flush_after_task")
