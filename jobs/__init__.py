"""Background jobs: the job functions, and the two ways they run — saq workers over Redis
(`markets worker`), or an in-process asyncio worker inside `markets serve` without Redis."""
