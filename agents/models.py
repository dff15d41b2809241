"""Domains, divisions, agents and the people who sign in."""

import hashlib
from datetime import timedelta

import pghistory
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from agents.constants import HANDLE_EXAMPLE, HANDLE_FORMAT, HANDLE_PATTERN

handle_validator = RegexValidator(HANDLE_PATTERN, message=f"A handle is {HANDLE_FORMAT}, e.g. {HANDLE_EXAMPLE}.")
TIER_VALIDATORS = [MinValueValidator(1), MaxValueValidator(3)]


class Domain(models.Model):
    """A top-level organisation (NovaOps, OrchOps) led by one Tier 1 agent."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    lead = models.OneToOneField("Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="led_domain")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Division(models.Model):
    """A team of agents inside a domain; its lead must be one of its own agents (enforced by a composite FK)."""

    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="divisions")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=80)
    tier = models.PositiveSmallIntegerField(default=3, validators=TIER_VALIDATORS)
    description = models.TextField(blank=True)
    # One lead per division, and an agent leads at most one division.
    lead = models.OneToOneField("Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="led_division")
    # Liveness defaults for its agents: how often they report, how late they may be, and the share of its active
    # agents that may go silent before the division as a whole is flagged.
    heartbeat_period = models.DurationField(default=timedelta(minutes=1))
    heartbeat_grace = models.DurationField(default=timedelta(minutes=5))
    silent_share = models.FloatField(default=0.3)

    class Meta:
        ordering = ["domain__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "name"], name="division_unique_name_in_domain"),
            models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=3), name="division_tier_valid"),
            models.CheckConstraint(condition=Q(silent_share__gt=0, silent_share__lte=1), name="division_silent_share"),
            models.CheckConstraint(condition=Q(heartbeat_period__gt=timedelta(0)), name="division_heartbeat_period"),
        ]

    def __str__(self) -> str:
        return self.name


class AgentLifecycle(models.TextChoices):
    PROVISIONING = "provisioning", "Provisioning"
    DEPLOYED = "deployed", "Deployed"
    ACTIVE = "active", "Active"
    DEGRADED = "degraded", "Degraded"
    PAUSED = "paused", "Paused"
    RETIRED = "retired", "Retired"


# Every state but the final one; an agent can be retired from any of them.
LIVE_STATES = [state for state in AgentLifecycle.values if state != AgentLifecycle.RETIRED]


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    fields=["lifecycle_state", "deployed_version", "division"],
    model_name="AgentLifecycleEvent",
    context_field=pghistory.ContextJSONField(),
    append_only=True,
)
class Agent(models.Model):
    """A software agent of the fleet, addressed by its handle (ta_00008) and known by its callsign (Core).

    Its lifecycle is a django-fsm-2 machine (the transition methods below; agents.services.lifecycle checks who may
    and records why). Changes of state, deployed version and division are written by database triggers into the
    append-only AgentLifecycleEvent table with who, why and when in each row: the agent page's timeline.
    """

    Lifecycle = AgentLifecycle

    handle = models.CharField(max_length=8, unique=True, validators=[handle_validator])
    callsign = models.CharField(max_length=60)
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="agents")
    tier = models.PositiveSmallIntegerField(default=3, validators=TIER_VALIDATORS)
    role_title = models.CharField(max_length=120, blank=True)
    lifecycle_state = FSMField(max_length=16, choices=AgentLifecycle.choices, default=AgentLifecycle.PROVISIONING)
    deployed_version = models.CharField(max_length=80, blank=True)
    # Liveness: the last heartbeat or metric point, what the agent said of itself, and its own expected period and
    # grace (empty: its division's).
    last_seen_at = models.DateTimeField(null=True, blank=True)
    status_message = models.CharField(max_length=200, blank=True)
    heartbeat_period = models.DurationField(null=True, blank=True)
    heartbeat_grace = models.DurationField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["handle"]
        constraints = [
            models.CheckConstraint(condition=Q(handle__regex=HANDLE_PATTERN), name="agent_handle_format"),
            models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=3), name="agent_tier_valid"),
            models.CheckConstraint(
                condition=Q(lifecycle_state__in=AgentLifecycle.values), name="agent_lifecycle_valid"
            ),
            # Target of the composite foreign key that keeps a division's lead inside the division.
            models.UniqueConstraint(fields=["id", "division"], name="agent_id_division_unique"),
        ]
        indexes = [models.Index(fields=["division", "lifecycle_state"], name="agent_division_state_idx")]

    def __str__(self) -> str:
        return f"{self.handle} ({self.callsign})" if self.callsign else self.handle

    # The machine. agents.services.lifecycle checks who may, under a row lock, and records why.
    @transition(field=lifecycle_state, source=AgentLifecycle.PROVISIONING, target=AgentLifecycle.DEPLOYED)
    def deploy(self, *, version: str) -> None:
        self.deployed_version = version

    @transition(
        field=lifecycle_state, source=[AgentLifecycle.DEPLOYED, AgentLifecycle.PAUSED], target=AgentLifecycle.ACTIVE
    )
    def activate(self) -> None:
        pass

    @transition(field=lifecycle_state, source=AgentLifecycle.ACTIVE, target=AgentLifecycle.DEGRADED)
    def degrade(self) -> None:
        pass

    @transition(field=lifecycle_state, source=AgentLifecycle.DEGRADED, target=AgentLifecycle.ACTIVE)
    def recover(self) -> None:
        pass

    @transition(
        field=lifecycle_state, source=[AgentLifecycle.ACTIVE, AgentLifecycle.DEGRADED], target=AgentLifecycle.PAUSED
    )
    def pause(self) -> None:
        pass

    @transition(field=lifecycle_state, source=LIVE_STATES, target=AgentLifecycle.RETIRED)
    def retire(self) -> None:
        pass


class PersonRole(models.TextChoices):
    TIER1_LEAD = "tier1_lead", "Tier 1 lead"
    DIVISION_MEMBER = "division_member", "Division member"
    VIEWER = "viewer", "Viewer"


class Person(models.Model):
    """A login user's NovaOps role, optionally linked to the agent they are."""

    Role = PersonRole

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person")
    agent = models.OneToOneField(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="person")
    role = models.CharField(max_length=20, choices=PersonRole.choices, default=PersonRole.VIEWER)
    # The division a member acts for; leads see everything and viewers act for nobody.
    division = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    domain = models.ForeignKey(Domain, null=True, blank=True, on_delete=models.PROTECT, related_name="people")

    class Meta:
        verbose_name_plural = "people"
        constraints = [
            models.CheckConstraint(condition=Q(role__in=PersonRole.values), name="person_role_valid"),
            models.CheckConstraint(
                condition=~Q(role="division_member") | Q(division__isnull=False),
                name="person_member_has_division",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def is_lead(self) -> bool:
        return self.role == self.Role.TIER1_LEAD

    def can_edit_division(self, division_id: int) -> bool:
        return self.is_lead or (self.role == self.Role.DIVISION_MEMBER and self.division_id == division_id)


class DivisionToken(models.Model):
    """An API credential acting for one division. The secret is shown once; only its SHA-256 is kept.

    Tokens look like `nvo_<prefix>_<secret>`: the prefix is public and indexed for lookup, the secret has 256 bits
    of entropy, so a fast hash is enough (a slow KDF protects low-entropy passwords, not random keys).
    """

    division = models.ForeignKey(Division, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["division__name", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["division", "name"], name="token_unique_name_in_division"),
            models.CheckConstraint(condition=Q(secret_sha256__regex=r"^[0-9a-f]{64}$"), name="token_hash_format"),
        ]

    def __str__(self) -> str:
        return f"{self.division} · {self.name} (nvo_{self.prefix}_…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        """What is stored of a secret, and compared when a client presents one: its SHA-256, in hex."""
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def state(self) -> str:
        from django.utils import timezone

        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"
