"""The main job, `caseflow demo` (DESIGN §8): a simulated half-year at a bureau shaped like the
seed, planned here (`flows.demo.plan`, pure and seeded) and driven through the real services
and the real sweep (`flows.demo.run`)."""
