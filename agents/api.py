"""Temporary alias, to be deleted: tests/novaops/test_api.py patches `agents.api.domain_list` to break the domain
list. The registry API now lives in agents.apis, one module per entity; this name stands for agents.apis.domains,
so that patch still reaches the selector DomainListApi calls. Delete this module once the test patches
`agents.apis.domains.domain_list`.
"""

import sys

from agents.apis import domains

sys.modules[__name__] = domains
