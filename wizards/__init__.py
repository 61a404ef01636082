from . import api_sync_client_secret
from . import api_sync_record_status
