from . import api_sync_client_secret
