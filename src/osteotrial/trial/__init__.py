"""A trial as data: configuration (YAML + JSON schema) and dose schedules of its arms."""
