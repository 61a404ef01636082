from . import main
from . import webhooks
from . import openapi
