import factory
from django.contrib.auth import get_user_model

from agents.models import Agent, Division, Domain, Person


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    # Hashed before the first save, so the stored hash and the session's auth hash agree.
    password = factory.django.Password("pw-for-tests")


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Domain {n}")
    slug = factory.Sequence(lambda n: f"domain-{n}")


class DivisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Division
        django_get_or_create = ["slug"]

    domain = factory.SubFactory(DomainFactory)
    name = factory.Sequence(lambda n: f"Division {n}")
    slug = factory.Sequence(lambda n: f"division-{n}")
    tier = 3


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    handle = factory.Sequence(lambda n: f"ta_{n + 50000:05d}")
    callsign = factory.Sequence(lambda n: f"Agent {n}")
    division = factory.SubFactory(DivisionFactory)
    tier = 3
    role_title = "Engineer"
    lifecycle_state = Agent.Lifecycle.ACTIVE


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    user = factory.SubFactory(UserFactory)
    role = Person.Role.VIEWER
