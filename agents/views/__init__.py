"""Server-rendered pages of the registry, one module per area: the registry itself (domains, divisions, agents)
and the division API tokens. Routes in agents.urls."""
