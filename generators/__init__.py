"""Model output generators: one small class per provider kind behind one interface.

Nothing here imports Django: the arena's services resolve a Provider/Contender row into a
`ProviderConfig` and call `get_generator(config).generate(request)`.
"""
