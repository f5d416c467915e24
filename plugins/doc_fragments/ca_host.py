# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # The options of the modules that run on the CA host with its key (pqc.edge.ca_sign, pqc.edge.ca_crl).
    DOCUMENTATION = r"""
options:
  ca_certificate_path:
    description: The CA's certificate.
    type: path
    required: true
  ca_private_key_path:
    description: The CA's private key; read by OpenSSL on this host only.
    type: path
    required: true
  openssl_path:
    description: The openssl binary to use; by default the first on the PATH.
    type: path
"""
