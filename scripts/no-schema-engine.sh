#!/bin/sh
echo "Prisma's native schema engine is not installed here; use 'npm run db:migrate' (Wasm schema engine)." >&2
exit 1
