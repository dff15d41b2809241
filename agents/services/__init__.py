"""The registry's writes: agents (agents.services.agents) and division API tokens (agents.services.tokens).

Services take plain values, enforce the rules and raise novaops.errors for what the rules refuse; they never
import the API or page layers.
"""
