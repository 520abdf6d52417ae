"""Translates template.yaml to plain CloudFormation offline (aws-sam-translator), so cfn-lint can check the
resources SAM generates: cfn-lint no longer applies the SAM transform itself and would miss errors inside
AWS::Serverless::* resources. Usage: python sam-translate.py template.yaml out.json"""
import json
import sys

import yaml
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicyLoader:
    """SAM asks IAM for managed policy ARNs; offline, no managed policy names are resolved."""

    def load(self):
        return {}


def main(source, target):
    with open(source) as f:
        template = yaml_parse(f.read())
    # Local CodeUris are uploaded by `sam build`/`sam deploy`; the translator only accepts S3 locations.
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            props = resource.setdefault("Properties", {})
            if isinstance(props.get("CodeUri"), str) and not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = "s3://lucid-placeholder/" + props["CodeUri"] + ".zip"
    translated = transform(template, {}, OfflinePolicyLoader())
    with open(target, "w") as f:
        json.dump(translated, f, indent=1)


if __name__ == "__main__":
    del yaml  # imported to fail early with a clear message when PyYAML is missing
    main(sys.argv[1], sys.argv[2])
