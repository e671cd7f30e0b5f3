"""The offline stack: moto over HTTP, resources from infra/, event pump, scheduler, seed."""
