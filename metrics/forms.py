"""Forms of the metrics pages: the catalogue's filters and a metric's description; the Temporal pages' connection
(its secrets write-only) and mapping to a division."""

import re

from django import forms

from agents.models import Agent, AgentLifecycle, Division
from metrics.models import Metric, TemporalConnection

ADDRESS_RE = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
KEEP = "Leave empty to keep the stored one."


class CatalogueFilterForm(forms.Form):
    """The catalogue page's filters, all in the URL (a GET form): a search, the review queue, one division."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        help_text="Key, name or description.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}),
    )
    # "1" or nothing: a BooleanField would read review=0 as checked.
    review = forms.TypedChoiceField(
        label="Needs review only", choices=[("1", "Needs review only")], coerce=bool, required=False, empty_value=False
    )
    division = forms.ModelChoiceField(
        queryset=Division.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Every division",
        help_text="The metrics it reports.",
    )


class MetricEditForm(forms.ModelForm):
    """What a lead says about a metric; its key is its identity at ingest and never changes."""

    class Meta:
        model = Metric
        fields = ["name", "unit", "kind", "better", "description"]
        labels = {"better": "Which direction is good"}
        help_texts = {
            "unit": "As charts label it: ms, %, tasks/min …",
            "kind": "A counter's points are increments, added up per bucket; a gauge's are levels.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


class TemporalConnectionForm(forms.ModelForm):
    """Name, address, namespace and switch are model fields; the secrets are separate fields that start empty and
    are never filled from the stored values (an empty one keeps what is stored, see temporal_connection_save)."""

    tls_client_cert = forms.CharField(
        label="TLS client certificate (PEM)", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    tls_client_key = forms.CharField(
        label="TLS client key (PEM)", required=False, widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"})
    )
    api_key = forms.CharField(
        label="API key", required=False, widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
    )
    clear_secrets = forms.BooleanField(
        label="Remove the stored certificate, key and API key", required=False, widget=forms.CheckboxInput
    )

    class Meta:
        model = TemporalConnection
        fields = ["name", "address", "namespace", "enabled"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.pk is not None
        for name in TemporalConnection.SECRET_FIELDS:
            self.initial.pop(name, None)  # write-only: never rendered back
        for name in TemporalConnection.SECRET_FIELDS:
            if stored and getattr(self.instance, name):
                self.fields[name].help_text = f"One is stored. {KEEP}"
        if not stored:
            del self.fields["clear_secrets"]

    def clean(self) -> dict:
        data = super().clean()
        kept = not data.get("clear_secrets")
        cert = data.get("tls_client_cert") or (kept and self.instance.tls_client_cert)
        key = data.get("tls_client_key") or (kept and self.instance.tls_client_key)
        if bool(cert) != bool(key):
            raise forms.ValidationError("A TLS client certificate needs its private key, and the key its certificate.")
        return data

    def clean_address(self) -> str:
        address = self.cleaned_data["address"].strip()
        if not ADDRESS_RE.match(address):
            raise forms.ValidationError("Write host:port, e.g. temporal.internal:7233.")
        return address


class TemporalMappingForm(forms.Form):
    task_queue = forms.CharField(max_length=255, required=False)
    workflow_type = forms.CharField(max_length=255, required=False, help_text="Empty: every type on the queue.")
    division = forms.ModelChoiceField(queryset=Division.objects.order_by("name"))
    agent = forms.ModelChoiceField(
        queryset=Agent.objects.exclude(lifecycle_state=AgentLifecycle.RETIRED).order_by("handle"),
        required=False,
        help_text="Optional: an agent of that division.",
    )

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("task_queue") and not data.get("workflow_type"):
            raise forms.ValidationError("Name a task queue, a workflow type or both.")
        agent, division = data.get("agent"), data.get("division")
        if agent is not None and division is not None and agent.division_id != division.pk:
            self.add_error("agent", f"{agent.handle} is not an agent of {division.name}.")
        return data
